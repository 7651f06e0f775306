import { CoreError } from './errors.js'

/**
 * The shape of one validation problem, as Ajv (JSON Schema 2020-12) reports it.
 * Only the fields read here; Ajv's `ErrorObject` is assignable to it.
 *
 * @public
 */
export interface ValidationIssue {
  /** JSON Pointer (RFC 6901) to the failing value, `""` for the root. */
  instancePath: string
  /** The failing keyword, e.g. `type`, `required`, `maxLength`. */
  keyword: string
  /** Ajv's explanation, e.g. `must be number`. */
  message?: string | undefined
  /** Keyword parameters, e.g. `{ missingProperty: 'on' }`. */
  params?: Record<string, unknown>
}

/**
 * Builds the `E_VALIDATION` CoreError for a list of validation issues. The message names
 * `subject` and every failing path; `details.errors` holds `{ path, keyword, message }`
 * entries (paths are JSON Pointers), the form HTTP problem+json puts in `errors`.
 *
 * @param subject - What was validated, e.g. `params of "lights.set"`.
 * @param issues - Ajv's `errors` array (or any {@link ValidationIssue} list).
 * @param details - Extra details merged in (service, topic, namespace…).
 * @returns The error, to be thrown by the caller.
 * @public
 */
export function validationError(
  subject: string,
  issues: readonly ValidationIssue[] | null | undefined,
  details?: Record<string, unknown>,
): CoreError {
  const errors = (issues ?? []).map((issue) => {
    const missing = issue.params?.missingProperty
    const path =
      issue.keyword === 'required' && typeof missing === 'string'
        ? `${issue.instancePath}/${missing}`
        : issue.instancePath
    return {
      path: path === '' ? '/' : path,
      keyword: issue.keyword,
      message: issue.message ?? 'is invalid',
    }
  })
  const summary =
    errors.length === 0
      ? 'is invalid'
      : errors
          .slice(0, 5)
          .map((e) => `${e.path} ${e.message}`)
          .join('; ') + (errors.length > 5 ? `; and ${errors.length - 5} more` : '')
  return new CoreError('E_VALIDATION', `Invalid ${subject}: ${summary}`, {
    details: { ...details, errors },
  })
}
