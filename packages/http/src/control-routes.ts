import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { requireAdmin } from './auth.js'
import { principalOf } from './routes/context.js'
import type { HttpServer } from './types.js'

/** The control scopes an operator may send (MindBus `ctl.<target>.<scope>`). @public */
export const CONTROL_SCOPES = ['stop', 'pause', 'resume', 'shutdown', 'config'] as const

/** One of {@link CONTROL_SCOPES}. @public */
export type ControlRouteScope = (typeof CONTROL_SCOPES)[number]

/**
 * What the control route sends signals through: `@core/mindbus`'s `MindBus` satisfies it
 * (`control(target, scope, data)` publishes `ctl.<target>.<scope>`, priority 255, confirmed).
 * It rejects with a CoreError (`E_UNAVAILABLE` when the broker is unreachable or cluster mode
 * is off, `E_VALIDATION` for a bad target), which becomes the problem response.
 * @public
 */
export interface ControlSender {
  control(target: string, scope: ControlRouteScope, data?: unknown): Promise<void>
}

/** A control target: `all`, a role or a node uid (one routing-key word). */
const TARGET_PATTERN = '^[A-Za-z0-9_-]{1,64}$'

/**
 * Adds `POST /api/v1/control` to an HTTP server, before `listen()`: body
 * `{ target, scope, data? }` → the control signal `ctl.<target>.<scope>` through `sender`,
 * answered `202 { routingKey }` once the broker confirmed it. `target` is `all`, a role or a
 * node uid; `scope` one of `stop` (abort the commands running on the target), `pause` / `resume`
 * (stop / restart taking commands), `shutdown` (graceful stop of the hub), `config` (reload the
 * hub's config). Admin tokens only. Described in the OpenAPI document (tag `control`).
 *
 * @param server - The HTTP server, not yet listening.
 * @param sender - Sends the signal (the hub's MindBus).
 * @returns Nothing; the route is registered with the server's other routes.
 * @throws {@link @core/contracts!CoreError} (per request, as RFC 9457 problems) `E_VALIDATION` (400) for a bad
 *   body; `E_FORBIDDEN` (403) for a token without the `admin` scope; `E_UNAVAILABLE` (503) when
 *   the signal cannot be sent (no broker, cluster mode off).
 * @see MindBus v1.0 control messages (`ctl.<target>.<scope>`, priority 255); RFC 9457
 * @example
 * ```ts
 * const http = createHttpServer(kernel)
 * registerControlRoutes(http, mindbus)
 * await http.listen()
 * // curl -X POST -H "authorization: Bearer $ADMIN" -d '{"target":"all","scope":"pause"}' …/api/v1/control
 * ```
 * @public
 */
export function registerControlRoutes(server: HttpServer, sender: ControlSender): void {
  void server.app.register(async (scoped) => {
    const api = scoped.withTypeProvider<TypeBoxTypeProvider>()
    api.post(
      '/api/v1/control',
      {
        schema: {
          tags: ['control'],
          summary: 'Send a control signal to hubs of the cluster (admin)',
          description:
            'Publishes ctl.<target>.<scope> on MindBus with priority 255: it overtakes queued commands and is consumed on its own queue and channel.',
          body: Type.Object(
            {
              target: Type.String({
                pattern: TARGET_PATTERN,
                description: '"all", a role, or a node uid',
              }),
              scope: Type.Enum([...CONTROL_SCOPES], {
                description:
                  'stop: abort running commands; pause/resume: stop/restart taking commands; shutdown: graceful stop; config: reload the config',
              }),
              data: Type.Optional(Type.Unknown({ description: 'Passed to the handlers as is' })),
            },
            { additionalProperties: false },
          ),
          response: {
            202: Type.Object({
              routingKey: Type.String({ description: 'ctl.<target>.<scope>, as published' }),
            }),
          },
        },
      },
      async (request, reply) => {
        const { target, scope, data } = request.body
        requireAdmin(principalOf(request), `send the control signal ${scope} to "${target}"`)
        await sender.control(target, scope, data)
        return reply.code(202).send({ routingKey: `ctl.${target}.${scope}` })
      },
    )
  })
}
