import { assertPublishableTopic, isTraceparent } from '@core/contracts'
import type { KernelSecurity } from '@core/kernel'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { FastifyInstance } from 'fastify'
import Type from 'typebox'
import { permit, permits, tokenSubject } from '../policy.js'
import { openEventStream } from '../sse.js'
import { EVENTS_MISSED_EVENT } from '../sse-replay.js'
import type { Principal } from '../tokens.js'
import { type ApiContext, principalOf, withTimeout } from './context.js'

/**
 * Registers `GET /api/v1/events` (Server-Sent Events of CloudEvents, resumable with
 * `Last-Event-ID`) and `POST /api/v1/events/{type}`.
 * @internal
 */
export function registerEventRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const api = app.withTypeProvider<TypeBoxTypeProvider>()
  const { kernel } = ctx

  api.get(
    '/api/v1/events',
    {
      schema: {
        tags: ['events'],
        summary: 'Stream events as Server-Sent Events',
        description: `Each event is \`event: <type>\`, \`id: <CloudEvent id>\`, \`data: <the CloudEvent as JSON>\`; \`: heartbeat\` comments keep the stream alive. A client that reconnects with \`Last-Event-ID\` first gets the events it missed since that one (from the hub's last ${ctx.replay.size} events), or, when that id is older, one \`${EVENTS_MISSED_EVENT}\` event (data \`{ lastEventId, replayEvents }\`): events were missed, re-read the state.`,
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
      requireSubscriber(kernel.security, principal)
      // The operator policy narrows the stream as it does a plugin's subscription.
      // (a stream of state changes only, `state.<namespace>.…`, is weighed as `state.read`).
      kernel.security.authorize({
        subject: tokenSubject(principal),
        ...(pattern.startsWith('state.')
          ? { action: 'state.read', resource: pattern.slice(6) }
          : { action: 'events.subscribe', resource: pattern }),
        via: 'http',
      })
      const lastEventId = request.headers['last-event-id']
      const filtered = !principal.admin || kernel.security.policy !== undefined
      openEventStream(reply, {
        bus: kernel.bus,
        pattern,
        ...(filtered
          ? { accept: (type: string) => mayReceive(kernel.security, principal, type) }
          : {}),
        heartbeatMs: ctx.heartbeatMs,
        name: `http-sse:${principal.id}`,
        onChange: (delta) => ctx.metrics.sse(delta),
        streams: ctx.streams,
        replay: ctx.replay,
        source: ctx.source,
        ...(typeof lastEventId === 'string' && lastEventId !== '' ? { lastEventId } : {}),
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
      permit(kernel.security, principal, 'events.publish', type)
      const traceparent = request.headers.traceparent
      const report = await withTimeout(
        kernel.bus.publish(type, request.body ?? null, {
          source: ctx.source,
          wait: false,
          ...(typeof traceparent === 'string' && isTraceparent(traceparent) ? { traceparent } : {}),
        }),
        ctx.routeTimeoutMs,
        `Publishing ${type}`,
      )
      return reply.code(202).send({ id: report.id, matched: report.matched })
    },
  )
}

/**
 * Whether a token may receive an event of `type` on a stream: a state change
 * (`state.<namespace>.<key>`) needs `state.read` on `<namespace>.<key>`, any other event
 * `events.subscribe` covering its type.
 */
function mayReceive(security: KernelSecurity, principal: Principal, type: string): boolean {
  return type.startsWith('state.')
    ? permits(security, principal, 'state.read', type.slice(6))
    : permits(security, principal, 'events.subscribe', type)
}

/** Refuses a stream to a token that may receive no event at all. */
function requireSubscriber(security: KernelSecurity, principal: Principal): void {
  if (principal.admin) return
  const { events, state } = principal.permissions as {
    events?: { subscribe?: string[] }
    state?: { read?: string[] }
  }
  if ((events?.subscribe?.length ?? 0) > 0 || (state?.read?.length ?? 0) > 0) return
  permit(security, principal, 'events.subscribe', '#')
}
