/**
 * The closed list of stable error codes. Every refusal anywhere in Core Runtime is a
 * {@link CoreError} carrying one of these. Adding a code is a minor change to
 * `@core/contracts` plus a row in `ERRORS.md` (a test keeps the two in step).
 *
 * @public
 */
export const CORE_ERROR_CODES = [
  'E_VALIDATION',
  'E_NOT_FOUND',
  'E_SERVICE_NOT_FOUND',
  'E_CONFLICT',
  'E_TIMEOUT',
  'E_FORBIDDEN',
  'E_UNAUTHENTICATED',
  'E_UNAVAILABLE',
  'E_PLUGIN_MANIFEST',
  'E_PLUGIN_DEPENDENCY',
  'E_PLUGIN_LIFECYCLE',
  'E_HANDLER',
  'E_CANCELLED',
  'E_STORAGE',
  'E_OVERFLOW',
  'E_INTERNAL',
] as const

/** One of {@link CORE_ERROR_CODES}. @public */
export type CoreErrorCode = (typeof CORE_ERROR_CODES)[number]

/**
 * A short, fixed title per code, for people: the `title` of an RFC 9457 problem (which must not
 * vary between occurrences of one problem type) and the heading of a CLI error.
 * @see RFC 9457 §3.1.3
 * @public
 */
export const CORE_ERROR_TITLES: Readonly<Record<CoreErrorCode, string>> = {
  E_VALIDATION: 'Invalid request',
  E_NOT_FOUND: 'Not found',
  E_SERVICE_NOT_FOUND: 'Service not found',
  E_CONFLICT: 'Conflict',
  E_TIMEOUT: 'Timed out',
  E_FORBIDDEN: 'Forbidden',
  E_UNAUTHENTICATED: 'Unauthenticated',
  E_UNAVAILABLE: 'Unavailable',
  E_PLUGIN_MANIFEST: 'Invalid plugin manifest',
  E_PLUGIN_DEPENDENCY: 'Plugin dependency failed',
  E_PLUGIN_LIFECYCLE: 'Plugin lifecycle step failed',
  E_HANDLER: 'Service handler failed',
  E_CANCELLED: 'Cancelled',
  E_STORAGE: 'Storage failed',
  E_OVERFLOW: 'Overflow',
  E_INTERNAL: 'Internal error',
}

/**
 * The JSON form of a {@link CoreError}, as carried over HTTP, MQTT and AMQP.
 * `cause` is flattened to its own serialised form when it is a CoreError or an Error.
 *
 * @public
 */
export interface SerializedCoreError {
  name: 'CoreError'
  code: CoreErrorCode
  message: string
  details?: Record<string, unknown>
  cause?: SerializedCoreError | { name: string; message: string }
}

/** Options for the {@link CoreError} constructor. @public */
export interface CoreErrorOptions {
  /** The error that led to this one (kept as `Error.cause`). */
  cause?: unknown
  /** Data for code, never secrets: Ajv paths, namespace, key, service name… */
  details?: Record<string, unknown>
}

const CODE_SET: ReadonlySet<string> = new Set(CORE_ERROR_CODES)

/**
 * The one error class of Core Runtime: a stable string `code`, a message a person can act on,
 * optional machine-readable `details` and the original `cause`.
 *
 * Test for it with {@link CoreError.is} rather than `instanceof`: independently versioned
 * packages can leave two copies of `@core/contracts` installed.
 *
 * @example
 * ```ts
 * throw new CoreError('E_SERVICE_NOT_FOUND', 'No service "lights.toggle"; did you mean "lights.turn_on"?', {
 *   details: { service: 'lights.toggle', closest: ['lights.turn_on'] },
 * })
 * ```
 * @public
 */
export class CoreError extends Error {
  override readonly name = 'CoreError'
  readonly code: CoreErrorCode
  readonly details: Readonly<Record<string, unknown>> | undefined

  /**
   * @param code - One of {@link CORE_ERROR_CODES}; an unknown code becomes `E_INTERNAL`.
   * @param message - What was refused and what would work.
   * @param options - `cause` and `details`.
   */
  constructor(code: CoreErrorCode, message: string, options?: CoreErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.code = CODE_SET.has(code) ? code : 'E_INTERNAL'
    this.details = options?.details
  }

  /**
   * True when `value` is a CoreError (from any copy of this package), optionally with `code`.
   * Matches by `name === 'CoreError'` and a known string `code`.
   */
  static is(value: unknown, code?: CoreErrorCode): value is CoreError {
    if (typeof value !== 'object' || value === null) return false
    const v = value as { name?: unknown; code?: unknown }
    if (v.name !== 'CoreError' || typeof v.code !== 'string' || !CODE_SET.has(v.code)) return false
    return code === undefined || v.code === code
  }

  /**
   * Rebuilds a CoreError from its JSON form (see {@link CoreError.toJSON}), e.g. an error
   * reply received over MQTT or AMQP. Anything that is not a serialised CoreError becomes
   * `E_INTERNAL` with the value as `details.received`.
   */
  static fromJSON(value: unknown): CoreError {
    if (typeof value === 'object' && value !== null) {
      const v = value as Partial<SerializedCoreError>
      if (typeof v.code === 'string' && typeof v.message === 'string') {
        const cause =
          v.cause === undefined
            ? undefined
            : CoreError.is(v.cause) || (v.cause as { name?: unknown }).name === 'CoreError'
              ? CoreError.fromJSON(v.cause)
              : Object.assign(new Error(String((v.cause as { message?: unknown }).message)), {
                  name: String((v.cause as { name?: unknown }).name ?? 'Error'),
                })
        return new CoreError(v.code as CoreErrorCode, v.message, {
          cause,
          details: typeof v.details === 'object' && v.details !== null ? v.details : undefined,
        })
      }
    }
    return new CoreError('E_INTERNAL', 'Received an error that is not a serialised CoreError', {
      details: { received: value },
    })
  }

  /** The JSON form: `{ name, code, message, details?, cause? }`. Stack traces are left out. */
  toJSON(): SerializedCoreError {
    const out: SerializedCoreError = { name: 'CoreError', code: this.code, message: this.message }
    if (this.details !== undefined) out.details = { ...this.details }
    const cause = this.cause
    if (CoreError.is(cause)) out.cause = cause.toJSON()
    else if (cause instanceof Error) out.cause = { name: cause.name, message: cause.message }
    return out
  }
}

/**
 * Wraps any thrown value as a CoreError: a CoreError passes through unchanged, anything else
 * becomes `code` with `message` (plus the original message) and the value as `cause`.
 *
 * @param error - The caught value.
 * @param code - The code for a value that is not already a CoreError.
 * @param message - What was being done, e.g. `Handler of "lights.toggle" failed`.
 * @public
 */
export function toCoreError(error: unknown, code: CoreErrorCode, message: string): CoreError {
  if (CoreError.is(error)) return error
  const reason = error instanceof Error ? error.message : String(error)
  return new CoreError(code, `${message}: ${reason}`, { cause: error })
}
