import { isDeepStrictEqual } from 'node:util'
import { CoreError, type CoreErrorCode } from '../errors.js'

/** Options of {@link expectCoreError}. @public */
export interface ExpectCoreErrorOptions {
  /** The message must match this (a substring or a pattern). */
  message?: string | RegExp
  /** `details` must hold these members, each deeply equal. */
  details?: Record<string, unknown>
}

/**
 * Asserts that `run` throws or rejects with a {@link @core/contracts!CoreError} of `code` (checked with
 * `CoreError.is`, so a copy from another package version counts), whose message is an actionable
 * sentence (longer than 10 characters). Throws otherwise (failing the test), saying what came
 * instead. Needs no test framework.
 *
 * @param run - A function (sync or async) or a promise.
 * @param code - The expected code.
 * @param options - `message` and `details` to check too.
 * @returns The error, for further assertions.
 * @example
 * ```ts
 * const error = await expectCoreError(() => services.call('nope.x', {}), 'E_SERVICE_NOT_FOUND')
 * expect(error.details).toMatchObject({ service: 'nope.x' })
 * ```
 * @public
 */
export async function expectCoreError(
  run: (() => unknown) | PromiseLike<unknown>,
  code: CoreErrorCode,
  options: ExpectCoreErrorOptions = {},
): Promise<CoreError> {
  let caught: unknown
  let threw = false
  try {
    await (typeof run === 'function' ? run() : run)
  } catch (error) {
    caught = error
    threw = true
  }
  if (!CoreError.is(caught, code)) {
    const got = !threw
      ? 'no error'
      : CoreError.is(caught)
        ? `${caught.code}: ${caught.message}`
        : `a non-CoreError: ${String(caught)}`
    throw new Error(`Expected a CoreError ${code}, got ${got}`)
  }
  if (caught.message.length <= 10) {
    throw new Error(`The ${code} message "${caught.message}" is not an actionable sentence`)
  }
  const { message, details } = options
  if (
    message !== undefined &&
    !(typeof message === 'string' ? caught.message.includes(message) : message.test(caught.message))
  ) {
    throw new Error(`The ${code} message "${caught.message}" does not match ${String(message)}`)
  }
  for (const [key, value] of Object.entries(details ?? {})) {
    if (!isDeepStrictEqual(caught.details?.[key], value)) {
      throw new Error(
        `The ${code} details.${key} is ${JSON.stringify(caught.details?.[key])}, expected ${JSON.stringify(value)}`,
      )
    }
  }
  return caught
}
