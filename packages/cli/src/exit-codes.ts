import { CoreError, type CoreErrorCode } from '@core/contracts'

/**
 * The process exit code of each {@link CoreErrorCode}, as the `core` command uses them.
 *
 * | exit | codes | meaning |
 * | ---: | --- | --- |
 * | 0 | — | success |
 * | 1 | `E_INTERNAL`, `E_HANDLER`, `E_STORAGE`, `E_PLUGIN_*`, `E_CANCELLED`, `E_OVERFLOW` | the hub or a plugin failed |
 * | 2 | `E_VALIDATION` | bad command line, bad JSON argument, or parameters the hub refused |
 * | 3 | `E_NOT_FOUND`, `E_SERVICE_NOT_FOUND` | no such service, state key, plugin or token |
 * | 4 | `E_UNAUTHENTICATED`, `E_FORBIDDEN` | missing or wrong token, or scopes that do not cover it |
 * | 5 | `E_CONFLICT` | `--if-revision` did not match |
 * | 6 | `E_TIMEOUT` | the call or request took longer than its deadline |
 * | 7 | `E_UNAVAILABLE` | the hub is not reachable (or unhealthy, for `core health`) |
 *
 * A value that is not a CoreError maps to 1.
 *
 * @see The README's "Exit codes" table. BSD sysexits(3) is deliberately not used: one small,
 *   stable code per error class is easier to branch on in shell scripts.
 * @example
 * ```ts
 * EXIT_CODES.E_UNAVAILABLE // 7
 * ```
 * @public
 */
export const EXIT_CODES: Readonly<Record<CoreErrorCode, number>> = Object.freeze({
  E_INTERNAL: 1,
  E_HANDLER: 1,
  E_STORAGE: 1,
  E_PLUGIN_MANIFEST: 1,
  E_PLUGIN_DEPENDENCY: 1,
  E_PLUGIN_LIFECYCLE: 1,
  E_CANCELLED: 1,
  E_OVERFLOW: 1,
  E_VALIDATION: 2,
  E_NOT_FOUND: 3,
  E_SERVICE_NOT_FOUND: 3,
  E_UNAUTHENTICATED: 4,
  E_FORBIDDEN: 4,
  E_CONFLICT: 5,
  E_TIMEOUT: 6,
  E_UNAVAILABLE: 7,
})

/**
 * The exit code for a thrown value: {@link EXIT_CODES} of a CoreError's code (matched with
 * `CoreError.is`, so a CoreError from another copy of `@core/contracts` counts), else 1.
 *
 * @param error - The caught value.
 * @returns An exit code from 1 to 7.
 * @example
 * ```ts
 * exitCodeOf(new CoreError('E_CONFLICT', 'revision 3 expected')) // 5
 * exitCodeOf(new Error('boom'))                                  // 1
 * ```
 * @public
 */
export function exitCodeOf(error: unknown): number {
  return CoreError.is(error) ? EXIT_CODES[error.code] : 1
}
