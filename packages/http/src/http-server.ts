import type { AddressInfo } from 'node:net'
import { CoreError } from '@core/contracts'
import type { Kernel } from '@core/kernel'
import fastifySwagger from '@fastify/swagger'
import Fastify, { type FastifyInstance, type onResponseHookHandler } from 'fastify'
import { createAuthenticator } from './access.js'
import { isLoopbackHost } from './auth.js'
import { addAuthHook, asArray } from './auth-hook.js'
import { acceptJsonBodiesOnly } from './json-body.js'
import { registerMetaRoutes } from './meta-routes.js'
import { createHttpMetrics } from './metrics.js'
import { sendProblem } from './problem.js'
import { type ApiContext, PRINCIPAL } from './routes/context.js'
import { registerApiRoutes } from './routes.js'
import { createEventReplayBuffer, DEFAULT_SSE_REPLAY_EVENTS } from './sse-replay.js'
import { type AuditedTokenStore, auditTokens } from './token-audit.js'
import { createTokenStore } from './tokens.js'
import type { CreateHttpServerOptions, HttpAddress, HttpServer, ListenOptions } from './types.js'

/** Default largest request body: 1 MiB. @public */
export const DEFAULT_BODY_LIMIT_BYTES = 1_048_576

/**
 * Creates the HTTP adapter of a kernel: a Fastify server that translates HTTP to kernel calls
 * and back, and carries no business logic.
 *
 * Routes (all JSON; errors are RFC 9457 `application/problem+json`):
 * - `POST /api/v1/services/{name}`: body = params (none = `{}`), 200 body = result; the
 *   registry validates against the service's own schema; the call runs under the service's
 *   deadline and is cancelled if the client goes away. `GET /api/v1/services` lists them.
 * - `GET /api/v1/state/{namespace}`, `GET`/`PUT`/`DELETE /api/v1/state/{namespace}/{key}`.
 * - `GET /api/v1/events?pattern=` (Server-Sent Events of CloudEvents; a client reconnecting
 *   with `Last-Event-ID` gets what it missed, or one `core.http.events_missed` event),
 *   `POST /api/v1/events/{type}` (body = data; 202).
 * - `GET /api/v1/plugins`, `POST /api/v1/plugins/{name}/reload` (admin).
 * - `POST`/`GET /api/v1/tokens`, `DELETE /api/v1/tokens/{id}` (admin).
 * - `GET /health` (200 healthy/degraded, 503 unhealthy), `GET /metrics` (Prometheus text),
 *   `GET /openapi.json` (OpenAPI 3.1, live from the registry), `GET /docs` (Swagger UI).
 *
 * Every `/api` route needs `Authorization: Bearer <token>` (401 `E_UNAUTHENTICATED` with
 * `WWW-Authenticate: Bearer` without a valid one, 403 `E_FORBIDDEN` when its scopes do not
 * cover the call) unless `auth: false`, which is accepted only on a loopback host. JSON bodies
 * over `bodyLimitBytes` get 413; other media types 415; `__proto__` and `constructor.prototype`
 * keys are refused (400).
 *
 * @param kernel - The kernel to serve (its storage holds the tokens).
 * @param options - See {@link CreateHttpServerOptions}.
 * @returns The {@link HttpServer}; call `listen()` to start it.
 * @throws {@link @core/contracts!CoreError} `E_VALIDATION` for a bad option, an `adminToken` with less than 128
 *   bits of estimated entropy (see `assertStrongAdminToken`), or `auth: false` with a `host`
 *   that is not loopback.
 * @see OpenAPI 3.1; RFC 9457 (problem details); RFC 6750 (bearer tokens); Server-Sent Events
 *   (WHATWG HTML §9.2); CloudEvents 1.0 JSON format; Prometheus text exposition format
 * @example
 * ```ts
 * const kernel = createKernel({ plugins: ['./plugins/lights'] })
 * await kernel.start()
 * const http = createHttpServer(kernel)
 * const { token } = await http.tokens.create({ name: 'me', scopes: ['admin'] })
 * const { url } = await http.listen({ host: '127.0.0.1', port: 8080 })
 * // curl -X POST -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \
 * //   -d '{"on":true}' $URL/api/v1/services/lights.set
 * ```
 * @public
 */
export function createHttpServer(
  kernel: Kernel,
  options: CreateHttpServerOptions = {},
): HttpServer {
  const auth = options.auth ?? true
  const defaultHost = options.host ?? '127.0.0.1'
  const defaultPort = options.port ?? 8080
  if (!auth) assertLoopback(defaultHost)
  const bodyLimit = integer(options.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES, 'bodyLimitBytes', 1)
  const requestTimeout = integer(options.requestTimeoutMs ?? 30_000, 'requestTimeoutMs', 0)
  const keepAliveTimeout = integer(options.keepAliveTimeoutMs ?? 72_000, 'keepAliveTimeoutMs', 1)
  const authFailures = {
    max: integer(options.authFailures?.max ?? 20, 'authFailures.max', 1),
    windowMs: integer(options.authFailures?.windowMs ?? 60_000, 'authFailures.windowMs', 1),
  }
  const routeTimeoutMs = integer(options.routeTimeoutMs ?? 10_000, 'routeTimeoutMs', 1)
  const reloadTimeoutMs = integer(options.reloadTimeoutMs ?? 60_000, 'reloadTimeoutMs', 1)
  const heartbeatMs = integer(options.heartbeatMs ?? 15_000, 'heartbeatMs', 1)
  const logger = (options.logger ?? kernel.logger).child({ component: 'http' })
  const publicRoutes = { health: true, metrics: false, docs: false, ...options.publicRoutes }
  const loopbackMeta = options.loopbackMeta ?? true
  const tokens: AuditedTokenStore = auditTokens(
    options.tokens ?? createTokenStore(kernel.storage, { logger }),
    { bus: kernel.bus, logger, source: options.source ?? '/core/http' },
  )
  const sseReplayEvents = integer(
    options.sseReplayEvents ?? DEFAULT_SSE_REPLAY_EVENTS,
    'sseReplayEvents',
    0,
  )
  // Before anything with a lifetime: a guessable adminToken throws here.
  const authenticator = createAuthenticator(tokens, options.adminToken)
  const metrics = createHttpMetrics(kernel, { processMetrics: options.processMetrics ?? true })
  const streams = new Set<() => void>()

  const app = Fastify({
    logger: false,
    bodyLimit,
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    // One deadline for receiving a request, headers included, checked often enough that a
    // socket lives at most requestTimeout + CHECK_INTERVAL_MS (Node checks every 30 s by
    // default, which let slow senders keep sockets for 60 s and more).
    requestTimeout,
    http: {
      ...(requestTimeout > 0 ? { headersTimeout: requestTimeout } : {}),
      connectionsCheckingInterval: CHECK_INTERVAL_MS,
    },
    keepAliveTimeout,
    // An in-flight request with a silent socket: past every route deadline this adapter sets.
    connectionTimeout: idleTimeoutOf(
      requestTimeout,
      keepAliveTimeout,
      reloadTimeoutMs,
      heartbeatMs,
    ),
    return503OnClosing: true,
    routerOptions: { maxParamLength: 512 },
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true } },
  })
  acceptJsonBodiesOnly(app)
  // Response schemas document; they do not filter what is sent.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data))
  app.decorateRequest(PRINCIPAL, null)
  const armFailureCounter = addAuthHook(app, {
    auth,
    tokens,
    authenticator,
    loopbackMeta,
    logger,
    authFailures,
  })

  void app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Core Runtime hub',
        version: kernel.apiVersion,
        description:
          'Services, state, events and plugins of a Core Runtime hub. Errors are RFC 9457 problem details with a stable `code`.',
      },
      components: {
        securitySchemes: {
          bearerAuth: {
            type: 'http',
            scheme: 'bearer',
            description: 'A token from `core token create` (`core_<id>_<secret>`)',
          },
        },
      },
      ...(auth ? { security: [{ bearerAuth: [] }] } : {}),
      tags: [
        { name: 'services', description: 'Call services registered by plugins' },
        { name: 'state', description: 'Namespaced, revisioned state' },
        { name: 'events', description: 'CloudEvents over Server-Sent Events' },
        { name: 'plugins', description: 'Plugin lifecycle (admin)' },
        { name: 'tokens', description: 'Bearer tokens (admin)' },
        {
          name: 'nodes',
          description: 'Hubs in the node registry: passports, health, label selectors',
        },
        { name: 'control', description: 'Control signals to hubs of the cluster (admin)' },
        { name: 'meta', description: 'Health, metrics, this document' },
      ],
    },
  })

  app.addHook('onRoute', (route) => {
    const record = metrics.route(String(route.method), route.url)
    const onResponse: onResponseHookHandler = (_request, reply, done) => {
      record(reply.statusCode, reply.elapsedTime / 1000)
      done()
    }
    route.onResponse = [...asArray(route.onResponse), onResponse]
  })

  // ─── errors (RFC 9457) ────────────────────────────────────────────────────────────────
  app.setErrorHandler((error, request, reply) => sendProblem(error, request, reply, logger))
  app.setNotFoundHandler((request, reply) => {
    metrics.route(request.method, 'unmatched')(404, reply.elapsedTime / 1000)
    sendProblem(
      new CoreError(
        'E_NOT_FOUND',
        `No route ${request.method} ${request.url.split('?', 1)[0]}: see GET /openapi.json for the routes this hub serves`,
      ),
      request,
      reply,
      logger,
    )
  })

  // ─── SSE streams end before the server waits for connections ─────────────────────────
  app.addHook('preClose', async () => {
    for (const end of [...streams]) end()
  })

  // ─── routes ───────────────────────────────────────────────────────────────────────────
  const ctx: ApiContext = {
    kernel,
    tokens,
    metrics,
    routeTimeoutMs,
    reloadTimeoutMs,
    heartbeatMs,
    cancelOnDisconnect: options.cancelOnDisconnect ?? false,
    source: options.source ?? '/core/http',
    streams,
    replay: createEventReplayBuffer(kernel.bus, sseReplayEvents),
  }
  // Registered as a plugin so that they load after @fastify/swagger, which records routes.
  void app.register(async (scoped) => {
    armFailureCounter(scoped)
    registerApiRoutes(scoped, ctx)
    registerMetaRoutes(scoped, { kernel, metrics, publicRoutes, auth })
  })

  let closed: Promise<void> | undefined
  return {
    app: app as unknown as FastifyInstance,
    tokens,
    authenticate: authenticator.authenticate,
    metrics: metrics.registry,

    async listen(listenOptions: ListenOptions = {}): Promise<HttpAddress> {
      const host = listenOptions.host ?? defaultHost
      const port = listenOptions.port ?? defaultPort
      if (!auth) assertLoopback(host)
      try {
        await app.listen({ host, port })
      } catch (error) {
        throw new CoreError(
          'E_UNAVAILABLE',
          `Could not listen on ${host}:${port}: ${error instanceof Error ? error.message : String(error)}; pick another port or stop what holds it`,
          { cause: error, details: { host, port } },
        )
      }
      const address = app.server.address() as AddressInfo
      if (!auth && !isLoopbackHost(address.address)) {
        await app.close()
        assertLoopback(address.address)
      }
      const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address
      return { url: `http://${shown}:${address.port}`, host: address.address, port: address.port }
    },

    close(): Promise<void> {
      closed ??= (async () => {
        await app.close()
        ctx.replay.close()
      })()
      return closed
    },
  }
}

function assertLoopback(host: string): void {
  if (isLoopbackHost(host)) return
  throw new CoreError(
    'E_VALIDATION',
    `auth: false is only allowed on a loopback address (127.0.0.0/8, ::1, localhost), not "${host}": listen on 127.0.0.1 or turn auth on`,
    { details: { host, auth: false } },
  )
}

/** How often Node looks for requests past their deadline, ms. */
const CHECK_INTERVAL_MS = 1_000

/**
 * The socket inactivity timeout (Node's `server.timeout`): longer than every deadline of this
 * adapter (receiving a request, an idle keep-alive, a reload) and than the SSE heartbeat, so
 * that it only ends sockets nothing else would.
 */
function idleTimeoutOf(...deadlinesMs: number[]): number {
  return Math.max(...deadlinesMs) + 5_000
}

function integer(value: number, name: string, min: number): number {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new CoreError(
      'E_VALIDATION',
      `Invalid ${name} ${String(value)}: use an integer ≥ ${min}`,
      { details: { [name]: value } },
    )
  }
  return value
}
