import { randomUUID } from 'node:crypto'
import {
  CORE_ERROR_TITLES,
  CoreError,
  type CoreErrorCode,
  type Logger,
  validationError,
} from '@core/contracts'
import type { FastifyReply, FastifyRequest } from 'fastify'

/** The media type of every error body (RFC 9457 §3). @public */
export const PROBLEM_CONTENT_TYPE = 'application/problem+json'

/** Prefix of the `type` URI of every problem: `<base><code>`, e.g. `…/errors/E_VALIDATION`. @public */
export const PROBLEM_TYPE_BASE = 'https://core-runtime.dev/errors/'

/**
 * The HTTP status of each {@link CoreErrorCode}; codes not listed map to 500.
 * @public
 */
export const STATUS_BY_CODE: Readonly<Partial<Record<CoreErrorCode, number>>> = Object.freeze({
  E_VALIDATION: 400,
  E_UNAUTHENTICATED: 401,
  E_FORBIDDEN: 403,
  E_NOT_FOUND: 404,
  E_SERVICE_NOT_FOUND: 404,
  E_CONFLICT: 409,
  E_UNAVAILABLE: 503,
  E_TIMEOUT: 504,
})

/**
 * One RFC 9457 problem details object, as every error response carries it.
 *
 * - `type`: `https://core-runtime.dev/errors/<code>`; `title`: a short summary of the code;
 * - `status`: the HTTP status; `detail`: the CoreError message (what was refused, what works),
 *   except for {@link HIDDEN_CODES} (`E_HANDLER`, `E_INTERNAL`), whose detail is generic;
 * - `code`: the stable {@link CoreErrorCode}; `errors`: validation issues `{ path, keyword,
 *   message }` (JSON Pointers) for `E_VALIDATION`; `details`: the rest of the CoreError's
 *   details (none for hidden codes); `instance`: the request path, or for hidden codes a
 *   `urn:uuid:` id that the server's log line of the real error carries too.
 * @public
 */
export interface Problem {
  type: string
  title: string
  status: number
  detail: string
  code: CoreErrorCode
  instance?: string
  errors?: Array<{ path: string; keyword: string; message: string }>
  details?: Record<string, unknown>
}

/**
 * The codes whose message and details are not sent to the client: a handler's or the hub's own
 * failure may carry internals (paths, queries, other users' data). The problem gets a generic
 * detail and a `urn:uuid:` `instance`; log the real error with that id.
 * @public
 */
export const HIDDEN_CODES: readonly CoreErrorCode[] = Object.freeze(['E_HANDLER', 'E_INTERNAL'])

/** Options of {@link problemFromError}. @public */
export interface ProblemFromErrorOptions {
  /**
   * The request path, copied to `instance`; for {@link HIDDEN_CODES}, the occurrence id to use
   * instead of a fresh `urn:uuid:` (pass the one you logged).
   */
  instance?: string
}

/**
 * Turns any thrown value into an RFC 9457 problem with the HTTP status its code maps to:
 * `E_VALIDATION` 400, `E_UNAUTHENTICATED` 401, `E_FORBIDDEN` 403, `E_SERVICE_NOT_FOUND` and
 * `E_NOT_FOUND` 404, `E_CONFLICT` 409, `E_UNAVAILABLE` 503, `E_TIMEOUT` 504, any other code 500.
 *
 * Fastify's own errors are mapped too: malformed or poisoned JSON, a bad `Content-Length`, a
 * bad URL or a failed route schema → 400 `E_VALIDATION`; a body over the limit → 413 and an
 * unsupported media type → 415 (both `E_VALIDATION`, the status kept); an unknown route → 404
 * `E_NOT_FOUND`. Anything else becomes 500 `E_INTERNAL`. `E_HANDLER` and `E_INTERNAL` get a
 * generic detail that names their `instance` (a `urn:uuid:` id unless you pass one): the
 * message of a failing handler or an unexpected error is not sent to the client (log it with
 * that id).
 *
 * @param error - The caught value.
 * @param options - `instance` (the request path).
 * @returns The problem; its `status` is the HTTP status to send.
 * @see RFC 9457, "Problem Details for HTTP APIs"
 * @example
 * ```ts
 * const problem = problemFromError(new CoreError('E_TIMEOUT', 'lights.set took over 5000 ms'))
 * reply.code(problem.status).type('application/problem+json').send(problem) // 504
 * ```
 * @public
 */
export function problemFromError(error: unknown, options: ProblemFromErrorOptions = {}): Problem {
  const { err, status } = toCoreErrorWithStatus(error)
  return problemOf(err, status, options.instance)
}

/**
 * Builds the problem of a CoreError sent with `status`.
 * @internal
 */
export function problemOf(err: CoreError, status: number, instance?: string): Problem {
  if (HIDDEN_CODES.includes(err.code)) {
    const id = instance?.startsWith('urn:') ? instance : occurrenceId()
    return {
      type: `${PROBLEM_TYPE_BASE}${err.code}`,
      title: CORE_ERROR_TITLES[err.code],
      status,
      detail: `${err.code === 'E_HANDLER' ? 'The service failed' : 'The hub failed to handle this request'}; its log has the error under ${id}`,
      code: err.code,
      instance: id,
    }
  }
  const problem: Problem = {
    type: `${PROBLEM_TYPE_BASE}${err.code}`,
    title: CORE_ERROR_TITLES[err.code],
    status,
    detail: err.message,
    code: err.code,
  }
  if (instance !== undefined) problem.instance = instance
  const details = err.details
  if (details !== undefined) {
    const { errors, ...rest } = details as { errors?: unknown } & Record<string, unknown>
    if (Array.isArray(errors)) problem.errors = errors as Problem['errors']
    if (Object.keys(rest).length > 0) problem.details = rest
  }
  return problem
}

/**
 * A fresh id for one occurrence of a hidden problem: `urn:uuid:<uuid v4>` (RFC 9562).
 * @internal
 */
export function occurrenceId(): string {
  return `urn:uuid:${randomUUID()}`
}

/**
 * Maps a thrown value to a CoreError and the status to send. Exposed inside the package so
 * the error handler can log unexpected errors before they are hidden.
 * @internal
 */
export function toCoreErrorWithStatus(error: unknown): { err: CoreError; status: number } {
  if (CoreError.is(error)) return { err: error, status: STATUS_BY_CODE[error.code] ?? 500 }
  const fst = error as FastifyLikeError
  if (typeof fst?.code === 'string' && fst.code.startsWith('FST_')) {
    if (fst.code === 'FST_ERR_VALIDATION' && Array.isArray(fst.validation)) {
      const subject =
        fst.validationContext === undefined ? 'request' : `request ${fst.validationContext}`
      return { err: validationError(subject, fst.validation), status: 400 }
    }
    const known = FASTIFY_ERRORS[fst.code]
    if (known !== undefined) {
      return {
        err: new CoreError(known.code, known.message(fst), { cause: error }),
        status: known.status,
      }
    }
    const status = typeof fst.statusCode === 'number' ? fst.statusCode : 500
    if (status >= 400 && status < 500) {
      return {
        err: new CoreError('E_VALIDATION', fst.message, {
          cause: error,
          details: { fastify: fst.code },
        }),
        status,
      }
    }
  }
  // secure-json-parse refusals and body parser errors carry a 4xx statusCode.
  if (
    error instanceof Error &&
    typeof fst.statusCode === 'number' &&
    fst.statusCode >= 400 &&
    fst.statusCode < 500
  ) {
    return {
      err: new CoreError('E_VALIDATION', `Invalid request: ${error.message}`, { cause: error }),
      status: fst.statusCode,
    }
  }
  return {
    err: new CoreError('E_INTERNAL', 'The hub failed to handle this request', { cause: error }),
    status: 500,
  }
}

interface FastifyLikeError {
  code?: unknown
  statusCode?: unknown
  message: string
  validation?: Array<{ instancePath: string; keyword: string; message?: string }>
  validationContext?: string
}

const FASTIFY_ERRORS: Record<
  string,
  { code: CoreErrorCode; status: number; message: (e: FastifyLikeError) => string }
> = {
  FST_ERR_CTP_INVALID_JSON_BODY: {
    code: 'E_VALIDATION',
    status: 400,
    message: () => 'The request body is not valid JSON: send a JSON document',
  },
  FST_ERR_CTP_EMPTY_JSON_BODY: {
    code: 'E_VALIDATION',
    status: 400,
    message: () =>
      'The request body is empty but Content-Type is application/json: send a JSON document or no Content-Type',
  },
  FST_ERR_CTP_BODY_TOO_LARGE: {
    code: 'E_VALIDATION',
    status: 413,
    message: () => 'The request body is larger than this hub accepts: send a smaller body',
  },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    code: 'E_VALIDATION',
    status: 415,
    message: () => 'Unsupported Content-Type: send the body as application/json',
  },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: {
    code: 'E_VALIDATION',
    status: 400,
    message: () => 'The request body size does not match its Content-Length header',
  },
  FST_ERR_BAD_URL: {
    code: 'E_VALIDATION',
    status: 400,
    message: (e) => `Malformed URL: ${e.message}`,
  },
  FST_ERR_NOT_FOUND: {
    code: 'E_NOT_FOUND',
    status: 404,
    message: () => 'No such route: see GET /openapi.json for the routes this hub serves',
  },
}

/**
 * Sends `error` as an RFC 9457 problem (see {@link problemFromError}), with the headers its
 * code calls for: `Retry-After` (and 429) when `details.retryAfterS` is set, `WWW-Authenticate`
 * for `E_UNAUTHENTICATED` and for an `E_FORBIDDEN` of a missing scope (RFC 6750 §3). A hidden
 * code is logged with the `urn:uuid:` occurrence id the client gets; other 5xx at debug level.
 * @internal
 */
export function sendProblem(
  error: unknown,
  request: FastifyRequest,
  reply: FastifyReply,
  logger: Logger,
): void {
  const mapped = toCoreErrorWithStatus(error)
  const { err } = mapped
  const retryAfterS = err.details?.retryAfterS
  const status = typeof retryAfterS === 'number' ? 429 : mapped.status
  let instance = request.url.split('?', 1)[0]
  if (HIDDEN_CODES.includes(err.code)) {
    // The client gets a generic detail naming this id; the log keeps the real error.
    instance = occurrenceId()
    logger.error({ err: error, url: request.url, instance }, 'request failed')
  } else if (status >= 500) {
    logger.debug({ err: error, url: request.url }, 'request failed')
  }
  if (typeof retryAfterS === 'number') reply.header('retry-after', String(retryAfterS))
  if (err.code === 'E_UNAUTHENTICATED') {
    const given = request.headers.authorization !== undefined
    reply.header(
      'www-authenticate',
      given ? 'Bearer realm="core", error="invalid_token"' : 'Bearer realm="core"',
    )
  } else if (err.code === 'E_FORBIDDEN' && err.details?.permission !== undefined) {
    reply.header('www-authenticate', 'Bearer realm="core", error="insufficient_scope"')
  }
  const problem = problemOf(err, status, instance)
  void reply.code(status).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(problem))
}
