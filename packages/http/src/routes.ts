import { assertPublishableTopic, CoreError, isTraceparent } from '@core/contracts'
import type { CallServiceOptions as CallOptions, Kernel } from '@core/kernel'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import Type from 'typebox'
import { allows, requireAdmin, requireScope, touches } from './auth.js'
import type { HttpMetrics } from './metrics.js'
import { SERVICES_PATH } from './openapi.js'
import { openEventStream } from './sse.js'
import type { AuditedTokenStore } from './token-audit.js'
import type { Principal } from './tokens.js'

/** What the `/api` routes need. @internal */
export interface ApiContext {
  kernel: Kernel
  tokens: AuditedTokenStore
  metrics: HttpMetrics
  routeTimeoutMs: number
  reloadTimeoutMs: number
  heartbeatMs: number
  cancelOnDisconnect: boolean
  source: string
  streams: Set<() => void>
}

/** The request property the auth hook sets. @internal */
export const PRINCIPAL = 'corePrincipal'

/** The principal the auth hook put on the request. @internal */
export function principalOf(request: FastifyRequest): Principal {
  return (request as unknown as Record<typeof PRINCIPAL, Principal>)[PRINCIPAL]
}

const Namespace = Type.String({ description: 'State namespace (usually a plugin name)' })
const Key = Type.String({ description: 'State key: dot-separated words' })
const StateEntry = Type.Object(
  {
    value: Type.Unknown(),
    revision: Type.Integer({ minimum: 1 }),
    updatedAt: Type.Integer({ description: 'epoch ms' }),
    expiresAt: Type.Optional(Type.Integer({ description: 'epoch ms' })),
  },
  { additionalProperties: true },
)
const StateItem = Type.Object(
  {
    key: Type.String(),
    value: Type.Unknown(),
    revision: Type.Integer({ minimum: 1 }),
    updatedAt: Type.Integer(),
    expiresAt: Type.Optional(Type.Integer()),
  },
  { additionalProperties: true },
)
const AnyObject = Type.Object({}, { additionalProperties: true })
const TokenInfo = Type.Object({
  id: Type.String(),
  name: Type.String(),
  scopes: Type.Array(Type.String()),
  createdAt: Type.Integer({ description: 'epoch ms' }),
  lastUsedAt: Type.Optional(Type.Integer({ description: 'epoch ms' })),
})
const noContent = { 204: Type.Null({ description: 'Done; no body' }) }

/**
 * Registers the `/api/v1` routes: services, state, events, plugins, tokens.
 * @internal
 */
export function registerApiRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const api = app.withTypeProvider<TypeBoxTypeProvider>()
  const { kernel } = ctx
  const timed = <T>(work: Promise<T>, what: string, ms = ctx.routeTimeoutMs): Promise<T> =>
    withTimeout(work, ms, what)

  // ─── services ─────────────────────────────────────────────────────────────────────────
  api.get(
    SERVICES_PATH,
    {
      schema: {
        tags: ['services'],
        summary: 'List the services this token may call',
        response: { 200: Type.Array(AnyObject) },
      },
    },
    async (request) => {
      const principal = principalOf(request)
      return kernel.services.list().filter((s) => allows(principal, 'services.call', s.name))
    },
  )

  // Documented per service by buildOpenApi, from the registry; hidden here.
  api.post(`${SERVICES_PATH}/:name`, { schema: { hide: true } }, async (request, reply) => {
    const principal = principalOf(request)
    const { name } = request.params as { name: string }
    requireScope(principal, 'services.call', name)
    const meta: Record<string, unknown> = { caller: 'http', token: principal.id }
    const traceparent = request.headers.traceparent
    if (typeof traceparent === 'string' && isTraceparent(traceparent)) {
      meta.traceparent = traceparent
    }
    // ?node=<uid> / ?selector=<label selector>: which hub of the cluster serves it (MindBus meta.route).
    const { node, selector } = request.query as { node?: unknown; selector?: unknown }
    if (typeof node === 'string' || typeof selector === 'string')
      meta.route = {
        ...(typeof node === 'string' ? { node } : {}),
        ...(typeof selector === 'string' ? { selector } : {}),
      }
    const options: CallOptions = { meta }
    if (ctx.cancelOnDisconnect) {
      const res = reply.raw
      const controller = new AbortController()
      res.once('close', () => {
        if (!res.writableFinished) controller.abort()
      })
      options.signal = controller.signal
    }
    const params = request.body === undefined ? {} : request.body
    const result = await kernel.services.call(name, params, options)
    reply.type('application/json; charset=utf-8')
    return JSON.stringify(result ?? null)
  })

  // ─── state ────────────────────────────────────────────────────────────────────────────
  api.get(
    '/api/v1/state/:namespace',
    {
      schema: {
        tags: ['state'],
        summary: 'List the live keys of a namespace (those this token may read)',
        params: Type.Object({ namespace: Namespace }),
        querystring: Type.Object({
          prefix: Type.Optional(Type.String({ description: 'Only this key and keys below it' })),
        }),
        response: { 200: Type.Array(StateItem) },
      },
    },
    async (request) => {
      const principal = principalOf(request)
      const { namespace } = request.params
      if (!touches(principal, 'state.read', namespace)) {
        requireScope(principal, 'state.read', `${namespace}.#`)
      }
      const { prefix } = request.query
      const items = await timed(
        kernel.state.list(namespace, prefix === undefined ? {} : { prefix }),
        `Listing state of "${namespace}"`,
      )
      return items.filter((item) => allows(principal, 'state.read', `${namespace}.${item.key}`))
    },
  )

  api.get(
    '/api/v1/state/:namespace/:key',
    {
      schema: {
        tags: ['state'],
        summary: 'Read one state key',
        params: Type.Object({ namespace: Namespace, key: Key }),
        response: { 200: StateEntry },
      },
    },
    async (request) => {
      const { namespace, key } = request.params
      requireScope(principalOf(request), 'state.read', `${namespace}.${key}`)
      const entry = await timed(kernel.state.get(namespace, key), `Reading ${namespace}/${key}`)
      if (entry === undefined) {
        throw new CoreError(
          'E_NOT_FOUND',
          `No state key "${key}" in namespace "${namespace}" (or it expired)`,
          { details: { namespace, key } },
        )
      }
      return entry
    },
  )

  api.put(
    '/api/v1/state/:namespace/:key',
    {
      schema: {
        tags: ['state'],
        summary: 'Write one state key',
        description:
          'With `ifRevision`, writes only if the key is at that revision (0 = absent), else 409 E_CONFLICT.',
        params: Type.Object({ namespace: Namespace, key: Key }),
        body: Type.Object(
          {
            value: Type.Unknown({ description: 'Any JSON value' }),
            ifRevision: Type.Optional(Type.Integer({ minimum: 0 })),
            ttlMs: Type.Optional(Type.Integer({ minimum: 1, description: 'Time to live, ms' })),
          },
          { additionalProperties: false },
        ),
        response: { 200: StateEntry },
      },
    },
    async (request) => {
      const { namespace, key } = request.params
      requireScope(principalOf(request), 'state.write', `${namespace}.${key}`)
      const { value, ifRevision, ttlMs } = request.body
      const options: { ifRevision?: number; ttlMs?: number } = {}
      if (ifRevision !== undefined) options.ifRevision = ifRevision
      if (ttlMs !== undefined) options.ttlMs = ttlMs
      const entry = await timed(
        kernel.state.set(namespace, key, value, options),
        `Writing ${namespace}/${key}`,
      )
      ctx.metrics.stateNamespace(namespace)
      return entry
    },
  )

  api.delete(
    '/api/v1/state/:namespace/:key',
    {
      schema: {
        tags: ['state'],
        summary: 'Delete one state key',
        params: Type.Object({ namespace: Namespace, key: Key }),
        querystring: Type.Object({ ifRevision: Type.Optional(Type.Integer({ minimum: 0 })) }),
        response: noContent,
      },
    },
    async (request, reply) => {
      const { namespace, key } = request.params
      requireScope(principalOf(request), 'state.write', `${namespace}.${key}`)
      const { ifRevision } = request.query
      const existed = await timed(
        kernel.state.delete(namespace, key, ifRevision === undefined ? {} : { ifRevision }),
        `Deleting ${namespace}/${key}`,
      )
      if (!existed) {
        throw new CoreError('E_NOT_FOUND', `No state key "${key}" in namespace "${namespace}"`, {
          details: { namespace, key },
        })
      }
      return reply.code(204).send(null)
    },
  )

  // ─── events ───────────────────────────────────────────────────────────────────────────
  api.get(
    '/api/v1/events',
    {
      schema: {
        tags: ['events'],
        summary: 'Stream events as Server-Sent Events',
        description:
          'Each event is `event: <type>`, `id: <CloudEvent id>`, `data: <the CloudEvent as JSON>`; `: heartbeat` comments keep the stream alive.',
        querystring: Type.Object({
          pattern: Type.Optional(
            Type.String({
              description: 'AMQP pattern (`*` one word, `#` zero or more); default `#`',
            }),
          ),
        }),
        response: {
          200: {
            description: 'A text/event-stream of CloudEvents',
            content: { 'text/event-stream': { schema: Type.String() } },
          },
        },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request)
      const pattern = request.query.pattern ?? '#'
      requireSubscriber(principal)
      openEventStream(reply, {
        bus: kernel.bus,
        pattern,
        ...(principal.admin ? {} : { accept: (type: string) => mayReceive(principal, type) }),
        heartbeatMs: ctx.heartbeatMs,
        name: `http-sse:${principal.id}`,
        onChange: (delta) => ctx.metrics.sse(delta),
        streams: ctx.streams,
      })
      return reply
    },
  )

  api.post(
    '/api/v1/events/:type',
    {
      schema: {
        tags: ['events'],
        summary: 'Publish an event; the body is its data',
        params: Type.Object({ type: Type.String({ description: 'Event type (topic)' }) }),
        body: Type.Unknown({ description: 'The event data: any JSON value (no body = null)' }),
        response: {
          202: Type.Object({
            id: Type.String({ description: 'The CloudEvent id' }),
            matched: Type.Integer({ description: 'Subscriptions the event was queued to' }),
          }),
        },
      },
    },
    async (request, reply) => {
      const { type } = request.params
      const principal = principalOf(request)
      // state.* and core.* come from the kernel alone, whatever the token's scopes say.
      assertPublishableTopic(type, `Token "${principal.name}"`)
      requireScope(principal, 'events.publish', type)
      const traceparent = request.headers.traceparent
      const report = await timed(
        kernel.bus.publish(type, request.body ?? null, {
          source: ctx.source,
          wait: false,
          ...(typeof traceparent === 'string' && isTraceparent(traceparent) ? { traceparent } : {}),
        }),
        `Publishing ${type}`,
      )
      return reply.code(202).send({ id: report.id, matched: report.matched })
    },
  )

  // ─── plugins ──────────────────────────────────────────────────────────────────────────
  api.get(
    '/api/v1/plugins',
    {
      schema: {
        tags: ['plugins'],
        summary: 'List plugins (admin)',
        response: { 200: Type.Array(AnyObject) },
      },
    },
    async (request) => {
      requireAdmin(principalOf(request), 'list plugins')
      return timed(kernel.plugins.list(), 'Listing plugins')
    },
  )

  api.post(
    '/api/v1/plugins/:name/reload',
    {
      schema: {
        tags: ['plugins'],
        summary: 'Reload a plugin and restart its dependents (admin)',
        params: Type.Object({ name: Type.String() }),
        response: { 200: AnyObject },
      },
    },
    async (request) => {
      const { name } = request.params
      requireAdmin(principalOf(request), `reload plugin "${name}"`)
      return timed(kernel.plugins.reload(name), `Reloading plugin "${name}"`, ctx.reloadTimeoutMs)
    },
  )

  // ─── tokens ───────────────────────────────────────────────────────────────────────────
  api.post(
    '/api/v1/tokens',
    {
      schema: {
        tags: ['tokens'],
        summary: 'Create a token (admin); its text is returned this once',
        body: Type.Object(
          {
            name: Type.String({ minLength: 1, maxLength: 64 }),
            scopes: Type.Array(Type.String(), {
              minItems: 1,
              maxItems: 100,
              description:
                '"admin", "metrics:read", "docs:read" or "<kind>:<pattern>", kind one of services.call, events.publish, events.subscribe, state.read, state.write',
            }),
          },
          { additionalProperties: false },
        ),
        response: {
          201: Type.Object({ ...TokenInfo.properties, token: Type.String() }),
        },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request)
      requireAdmin(principal, 'create tokens')
      const created = await timed(
        ctx.tokens.createBy(request.body, principal.id),
        'Creating a token',
      )
      return reply.code(201).send(created)
    },
  )

  api.get(
    '/api/v1/tokens',
    {
      schema: {
        tags: ['tokens'],
        summary: 'List tokens (admin); never their text',
        response: { 200: Type.Array(TokenInfo) },
      },
    },
    async (request) => {
      requireAdmin(principalOf(request), 'list tokens')
      return timed(ctx.tokens.list(), 'Listing tokens')
    },
  )

  api.delete(
    '/api/v1/tokens/:id',
    {
      schema: {
        tags: ['tokens'],
        summary: 'Revoke a token (admin)',
        params: Type.Object({ id: Type.String() }),
        response: noContent,
      },
    },
    async (request, reply) => {
      const principal = principalOf(request)
      requireAdmin(principal, 'revoke tokens')
      await timed(ctx.tokens.revokeBy(request.params.id, principal.id), 'Revoking a token')
      return reply.code(204).send(null)
    },
  )
}

/**
 * Whether a token may receive an event of `type` on a stream: a state change
 * (`state.<namespace>.<key>`) needs `state.read` on `<namespace>.<key>`, any other event
 * `events.subscribe` covering its type.
 */
function mayReceive(principal: Principal, type: string): boolean {
  return type.startsWith('state.')
    ? allows(principal, 'state.read', type.slice(6))
    : allows(principal, 'events.subscribe', type)
}

/** Refuses a stream to a token that may receive no event at all. */
function requireSubscriber(principal: Principal): void {
  if (principal.admin) return
  const { events, state } = principal.permissions as {
    events?: { subscribe?: string[] }
    state?: { read?: string[] }
  }
  if ((events?.subscribe?.length ?? 0) > 0 || (state?.read?.length ?? 0) > 0) return
  requireScope(principal, 'events.subscribe', '#')
}

/** Rejects with `E_TIMEOUT` when `work` takes longer than `ms` (the work itself goes on). */
function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(
        new CoreError('E_TIMEOUT', `${what} took longer than ${ms} ms; try again later`, {
          details: { timeoutMs: ms },
        }),
      )
    }, ms)
    timer.unref()
  })
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer))
}
