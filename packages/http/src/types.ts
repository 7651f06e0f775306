import type { Logger } from '@core/contracts'
import type { FastifyInstance } from 'fastify'
import type { Registry } from 'prom-client'
import type { TokenStore } from './tokens.js'

/** Which routes outside `/api` answer without a token. @public */
export interface PublicRoutes {
  /** `GET /health`. @defaultValue true */
  health?: boolean
  /** `GET /metrics`. @defaultValue true */
  metrics?: boolean
  /** `GET /openapi.json` and `GET /docs`. @defaultValue true */
  docs?: boolean
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
   * A fixed bearer credential with the `admin` scope, at least 32 characters (e.g. from an
   * environment variable), to bootstrap the first tokens. Compared in constant time.
   */
  adminToken?: string
  /** The token store. @defaultValue `createTokenStore(kernel.storage)` */
  tokens?: TokenStore
  /** Routes that need no token even with auth on. @defaultValue all true */
  publicRoutes?: PublicRoutes
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
  /** Time allowed to receive a whole request (headers and body), ms; 0 = none. @defaultValue 30_000 */
  requestTimeoutMs?: number
  /** How long an idle keep-alive connection stays open, ms. @defaultValue 72_000 */
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
  /** The prom-client Registry behind `GET /metrics`; other adapters may add metrics to it. */
  readonly metrics: Registry
  /**
   * Starts listening.
   * @throws E_VALIDATION when `auth: false` and the host is not a loopback address.
   * @throws E_UNAVAILABLE when the address cannot be bound (port in use, no such interface).
   */
  listen(options?: ListenOptions): Promise<HttpAddress>
  /** Ends SSE streams, lets requests in flight finish, closes the server, removes the metrics middleware. Idempotent. */
  close(): Promise<void>
}
