import { CORE_ERROR_CODES, CoreError, type CoreErrorCode } from '@core/contracts'
import { parseSse, type SseMessage } from './sse.js'

/** What the HTTP client needs. @internal */
export interface HubClientOptions {
  /** Base URL of the hub, e.g. `http://127.0.0.1:8080` (a path prefix is kept). */
  url: string
  /** Bearer token; none: no `Authorization` header. */
  token?: string | undefined
  /** Deadline of each request (until the whole body is read; for streams, until the headers), ms. */
  timeoutMs: number
  fetch: typeof fetch
  /** Aborts requests and streams (Ctrl+C). */
  signal?: AbortSignal | undefined
}

/** One request. @internal */
export interface HubRequest {
  method?: string
  /** JSON body. */
  body?: unknown
  query?: Record<string, string | number | undefined>
  /** Statuses besides 2xx whose body is an answer, not an error (e.g. 503 for `/health`). */
  accept?: readonly number[]
}

/** A decoded answer. @internal */
export interface HubResponse {
  status: number
  /** Parsed JSON, the text for other media types, `undefined` for an empty body. */
  body: unknown
}

/** A small fetch client of the hub's HTTP API. @internal */
export interface HubClient {
  readonly url: string
  request(path: string, request?: HubRequest): Promise<HubResponse>
  /** Opens `text/event-stream` at `path` and yields its events until it ends or is aborted. */
  stream(path: string, request?: HubRequest): Promise<AsyncGenerator<SseMessage>>
}

/** The RFC 9457 problem the hub sends with an error. @internal */
export interface ReceivedProblem {
  type?: string
  title?: string
  status?: number
  detail?: string
  code: CoreErrorCode
  errors?: Array<{ path: string; keyword?: string; message: string }>
  details?: Record<string, unknown>
  [extra: string]: unknown
}

/**
 * Creates the client. Every failure is a CoreError: an error answer is rebuilt from its
 * problem+json (`code` and `detail`; the problem kept as `details.problem`), an answer without
 * one gets the code of its status, a network failure is `E_UNAVAILABLE`, the deadline
 * `E_TIMEOUT`, an abort `E_CANCELLED`.
 * @throws {@link @core/contracts!CoreError} `E_VALIDATION` when `url` is not an http(s) URL.
 * @internal
 */
export function createHubClient(options: HubClientOptions): HubClient {
  const base = checkUrl(options.url)

  const open = async (
    path: string,
    request: HubRequest,
    accept: string,
  ): Promise<{ response: Response; done: () => void; signal: AbortSignal }> => {
    const target = new URL(base + path)
    for (const [name, value] of Object.entries(request.query ?? {})) {
      if (value !== undefined) target.searchParams.set(name, String(value))
    }
    const headers: Record<string, string> = { accept }
    if (options.token !== undefined && options.token !== '') {
      headers.authorization = `Bearer ${options.token}`
    }
    let body: string | undefined
    if (request.body !== undefined) {
      body = JSON.stringify(request.body)
      headers['content-type'] = 'application/json'
    }
    const controller = new AbortController()
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      controller.abort()
    }, options.timeoutMs)
    const onAbort = (): void => controller.abort()
    options.signal?.addEventListener('abort', onAbort, { once: true })
    const done = (): void => {
      clearTimeout(timer)
      options.signal?.removeEventListener('abort', onAbort)
    }
    const fail = (error: unknown): CoreError => {
      done()
      if (timedOut) {
        return new CoreError(
          'E_TIMEOUT',
          `The hub at ${base} did not answer ${request.method ?? 'GET'} ${path} within ${options.timeoutMs} ms (raise --timeout)`,
          { cause: error, details: { url: base, timeoutMs: options.timeoutMs } },
        )
      }
      if (options.signal?.aborted) {
        return new CoreError('E_CANCELLED', 'Interrupted', { cause: error })
      }
      const reason = causeText(error)
      return new CoreError(
        'E_UNAVAILABLE',
        `Cannot reach the hub at ${base} (${reason}): is it running? Start it with \`core start\`, or point --url / CORE_URL at it`,
        { cause: error, details: { url: base } },
      )
    }
    if (options.signal?.aborted) throw fail(options.signal.reason)
    let response: Response
    try {
      response = await options.fetch(target, {
        method: request.method ?? 'GET',
        headers,
        ...(body === undefined ? {} : { body }),
        signal: controller.signal,
        redirect: 'follow',
      })
    } catch (error) {
      throw fail(error)
    }
    return { response, signal: controller.signal, done }
  }

  const readBody = async (response: Response): Promise<unknown> => {
    const text = await response.text()
    if (text === '') return undefined
    const type = response.headers.get('content-type') ?? ''
    if (/[/+]json\b/i.test(type)) {
      try {
        return JSON.parse(text)
      } catch (error) {
        throw new CoreError(
          'E_INTERNAL',
          `The hub sent a body labelled ${type} that is not JSON: is ${base} a Core Runtime hub?`,
          { cause: error, details: { status: response.status } },
        )
      }
    }
    return text
  }

  return {
    url: base,
    async request(path, request = {}) {
      const { response, done } = await open(path, request, 'application/json')
      let body: unknown
      try {
        body = await readBody(response)
      } catch (error) {
        done()
        if (CoreError.is(error)) throw error
        throw new CoreError(
          'E_UNAVAILABLE',
          `The connection to ${base} broke while reading the answer (${causeText(error)})`,
          { cause: error, details: { url: base } },
        )
      }
      done()
      if (response.ok || request.accept?.includes(response.status)) {
        return { status: response.status, body }
      }
      throw errorFromResponse(response.status, body, `${request.method ?? 'GET'} ${path}`)
    },
    async stream(path, request = {}) {
      const { response, done, signal } = await open(path, request, 'text/event-stream')
      done()
      const type = response.headers.get('content-type') ?? ''
      if (!response.ok) {
        const body = await readBody(response).catch(() => undefined)
        throw errorFromResponse(response.status, body, `GET ${path}`)
      }
      if (!type.startsWith('text/event-stream') || response.body === null) {
        await response.body?.cancel().catch(() => undefined)
        throw new CoreError(
          'E_INTERNAL',
          `The hub answered GET ${path} with ${type || 'no content type'}, not text/event-stream`,
        )
      }
      const reader = response.body.getReader()
      const stop = (): void => {
        reader.cancel().catch(() => undefined)
      }
      options.signal?.addEventListener('abort', stop, { once: true })
      if (options.signal?.aborted) stop()
      async function* text(): AsyncGenerator<string> {
        const decoder = new TextDecoder()
        try {
          for (;;) {
            let step: Awaited<ReturnType<typeof reader.read>>
            try {
              step = await reader.read()
            } catch (error) {
              if (options.signal?.aborted || signal.aborted) return
              throw new CoreError(
                'E_UNAVAILABLE',
                `The event stream from ${base} broke (${causeText(error)})`,
                { cause: error, details: { url: base } },
              )
            }
            if (step.done) return
            yield decoder.decode(step.value, { stream: true })
          }
        } finally {
          options.signal?.removeEventListener('abort', stop)
          reader.cancel().catch(() => undefined)
        }
      }
      return parseSse(text())
    },
  }
}

/**
 * Rebuilds the CoreError of an error answer: from its problem+json when it has a known `code`,
 * else from the status (400 E_VALIDATION, 401 E_UNAUTHENTICATED, 403 E_FORBIDDEN, 404
 * E_NOT_FOUND, 409 E_CONFLICT, 413/415 E_VALIDATION, 429 (too many failed authentications)
 * and 503 E_UNAVAILABLE, 504 E_TIMEOUT, else E_INTERNAL).
 * @internal
 */
export function errorFromResponse(status: number, body: unknown, what: string): CoreError {
  if (isProblem(body)) {
    const detail = typeof body.detail === 'string' && body.detail !== '' ? body.detail : body.title
    return new CoreError(body.code, detail ?? `${what} failed with status ${status}`, {
      details: { status, problem: body },
    })
  }
  const code = CODE_BY_STATUS[status] ?? 'E_INTERNAL'
  const text = typeof body === 'string' ? body.trim().slice(0, 200) : ''
  return new CoreError(
    code,
    `${what} failed with HTTP ${status}${text === '' ? '' : `: ${text}`}`,
    { details: { status } },
  )
}

const CODES: ReadonlySet<string> = new Set(CORE_ERROR_CODES)

const CODE_BY_STATUS: Readonly<Record<number, CoreErrorCode>> = {
  400: 'E_VALIDATION',
  401: 'E_UNAUTHENTICATED',
  403: 'E_FORBIDDEN',
  404: 'E_NOT_FOUND',
  409: 'E_CONFLICT',
  413: 'E_VALIDATION',
  415: 'E_VALIDATION',
  429: 'E_UNAVAILABLE',
  503: 'E_UNAVAILABLE',
  504: 'E_TIMEOUT',
}

function isProblem(body: unknown): body is ReceivedProblem {
  return (
    typeof body === 'object' &&
    body !== null &&
    typeof (body as { code?: unknown }).code === 'string' &&
    CODES.has((body as { code: string }).code)
  )
}

/** The base URL without trailing slashes. */
function checkUrl(url: string): string {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch (error) {
    throw new CoreError(
      'E_VALIDATION',
      `--url "${url}" is not a URL: write it like http://127.0.0.1:8080`,
      { cause: error, details: { argument: '--url' } },
    )
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new CoreError('E_VALIDATION', `--url "${url}" must be an http:// or https:// URL`, {
      details: { argument: '--url' },
    })
  }
  if (parsed.search !== '' || parsed.hash !== '') {
    throw new CoreError('E_VALIDATION', `--url "${url}" must not have a query or fragment`, {
      details: { argument: '--url' },
    })
  }
  return parsed.href.replace(/\/+$/, '')
}

/** `ECONNREFUSED 127.0.0.1:9` from undici's `fetch failed` and its cause. */
function causeText(error: unknown): string {
  const cause = (error as { cause?: unknown })?.cause
  const inner = cause instanceof Error ? cause : error instanceof Error ? error : undefined
  if (inner === undefined) return String(error)
  const code = (inner as { code?: unknown }).code
  return typeof code === 'string' ? `${code}: ${inner.message}` : inner.message
}
