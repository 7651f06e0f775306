import type { Logger } from '@core/contracts'
import type { FastifyInstance } from 'fastify'
import type { Registry } from 'prom-client'
import type { Principal, TokenStore } from './tokens.js'

/** Which routes outside `/api` answer without a token. @public */
export interface PublicRoutes {
  /** `GET /health`. @defaultValue true */
  health?: boolean
  /**
   * `GET /metrics`. When false, a client needs a token with the `metrics:read` (or `admin`)
   * scope, unless it connects from a loopback address and `loopbackMeta` is on. @defaultValue false
   */
  metrics?: boolean
  /**
   * `GET /openapi.json` and `GET /docs`. When false, a client needs a token with the
   * `docs:read` (or `admin`) scope, unless it connects from a loopback address and
   * `loopbackMeta` is on. @defaultValue false
   */
  docs?: boolean
}

/** Options of the failed-authentication limit of {@link CreateHttpServerOptions}. @public */
export interface AuthFailureLimit {
  /** Failed authentications allowed per address and window; the next ones get 429. @defaultValue 20 */
  max?: number
  /** The window, ms; `Retry-After` says when it ends. @defaultValue 60_000 */
  windowMs?: number
}

/** Options of {@link createHttpServer}. @public */
export interface CreateHttpServerOptions {
  /**
   * Require a bearer token on every `/api` route. `false` is accepted only for a server that
   * listens on a loopback address (127.0.0.0/8, `::1`, `localhost`): every request then acts
   * as an admin. @defaultValue true
   */
  auth?: boolean
  /**
   * The host the server will listen on, checked at creation (for `auth: false`) and used by
   * `listen()` when it gets no host. @defaultValue '127.0.0.1'
   */
  host?: string
  /** The port `listen()` uses when it gets none; 0 picks a free one. @defaultValue 8080 */
  port?: number
  /**
   * A fixed bearer credential with the `admin` scope (e.g. from an environment variable), to
   * bootstrap the first tokens. Compared in constant time. It must hold at least 128 bits of
   * estimated entropy (`openssl rand -hex 32`, or a token from `core token create`): see
   * `assertStrongAdminToken`.
   */
  adminToken?: string
  /** The token store. @defaultValue `createTokenStore(kernel.storage)` */
  tokens?: TokenStore
  /**
   * Routes that need no token even with auth on.
   * @defaultValue `{ health: true, metrics: false, docs: false }`
   */
  publicRoutes?: PublicRoutes
  /**
   * Let clients on a loopback address (127.0.0.0/8, `::1`) read `/metrics`, `/openapi.json` and
   * `/docs` without a token when those routes are not public. Behind a reverse proxy on the
   * same machine every client looks local: turn this off there. @defaultValue true
   */
  loopbackMeta?: boolean
  /**
   * Failed authentications (no, malformed, unknown or revoked token) counted per client address
   * with @fastify/rate-limit; past `max` in `windowMs` the answer is 429 `E_UNAVAILABLE` with
   * `Retry-After` instead of 401. Requests with a valid token are never counted nor slowed.
   * @defaultValue `{ max: 20, windowMs: 60_000 }`
   */
  authFailures?: AuthFailureLimit
  /** Largest request body, bytes; a larger one is refused with 413. @defaultValue 1_048_576 (1 MiB) */
  bodyLimitBytes?: number
  /**
   * Deadline of the kernel work of each route other than service calls and plugin reloads
   * (state, events publish, plugins list, tokens), ms; past it the client gets 504
   * `E_TIMEOUT`. Service calls use the service's own deadline. @defaultValue 10_000
   */
  routeTimeoutMs?: number
  /** Deadline of `POST /api/v1/plugins/{name}/reload`, ms. @defaultValue 60_000 */
  reloadTimeoutMs?: number
  /**
   * Time allowed to receive a whole request (headers and body), ms; 0 = none. Node's
   * `requestTimeout` and `headersTimeout` both get it and are checked every second, so a slow
   * sender's socket is closed (408) between this and this + 1 s. @defaultValue 30_000
   */
  requestTimeoutMs?: number
  /**
   * How long an idle keep-alive connection stays open between requests, ms. A socket silent
   * while a request is in flight is closed after the largest of this, `requestTimeoutMs`,
   * `reloadTimeoutMs` and `heartbeatMs`, plus 5 s. @defaultValue 72_000
   */
  keepAliveTimeoutMs?: number
  /**
   * Cancel a service call (`E_CANCELLED`, the handler's signal aborts) when its client
   * disconnects before the answer. Off by default: on Node 20 the abort listener this needs
   * costs about 9 µs per call (EventTarget), a fifth of a call's budget; the call is bounded
   * by the service's deadline either way. @defaultValue false
   */
  cancelOnDisconnect?: boolean
  /** Interval of SSE heartbeat comments, ms. @defaultValue 15_000 */
  heartbeatMs?: number
  /**
   * How many of the hub's latest events (all types) are kept, from the first SSE stream on, so
   * that a client reconnecting with `Last-Event-ID` gets the ones it missed (filtered by its
   * pattern and scopes). When its id is older than that, or unknown, the stream sends one
   * `core.http.events_missed` event instead (`EVENTS_MISSED_EVENT`). An integer ≥ 0; 0 keeps
   * none. @defaultValue 1_000
   */
  sseReplayEvents?: number
  /** CloudEvents `source` of events published over HTTP. @defaultValue '/core/http' */
  source?: string
  /** Also export prom-client's default process and Node.js metrics. @defaultValue true */
  processMetrics?: boolean
  /** Where unexpected errors are logged. @defaultValue `kernel.logger` */
  logger?: Logger
}

/** Where the server listens. @public */
export interface HttpAddress {
  /** `http://<host>:<port>`, IPv6 hosts in brackets. */
  url: string
  host: string
  port: number
}

/** Options of {@link HttpServer.listen}. @public */
export interface ListenOptions {
  /** @defaultValue the `host` option, else '127.0.0.1' */
  host?: string
  /** 0 picks a free port. @defaultValue the `port` option, else 8080 */
  port?: number
}

/**
 * The HTTP adapter: the Fastify instance and its lifecycle.
 * @public
 */
export interface HttpServer {
  /** The Fastify instance, to add routes or hooks before `listen()`. */
  readonly app: FastifyInstance
  /** The token store the routes use (create the first admin token with it). */
  readonly tokens: TokenStore
  /**
   * Authenticates a bearer token as the routes do: the fixed `adminToken` (an admin), else the
   * token store. For other transports (MQTT calls) that accept the hub's HTTP tokens.
   * @param token - The bearer token, without the `Bearer ` prefix.
   * @returns The principal; check its scopes with `allows()` (this package).
   * @throws {@link @core/contracts!CoreError} `E_UNAUTHENTICATED` for a malformed, unknown or revoked token.
   */
  authenticate(token: string): Promise<Principal>
  /**
   * The HTTP adapter's own prom-client Registry (request metrics, SSE clients, process
   * metrics). `GET /metrics` serves it merged with `kernel.metrics`, where every other
   * component's metrics live (adapters add theirs there).
   */
  readonly metrics: Registry
  /**
   * Starts listening.
   * @throws E_VALIDATION when `auth: false` and the host is not a loopback address.
   * @throws E_UNAVAILABLE when the address cannot be bound (port in use, no such interface).
   */
  listen(options?: ListenOptions): Promise<HttpAddress>
  /** Ends SSE streams, lets requests in flight finish, closes the server. Idempotent. */
  close(): Promise<void>
}
