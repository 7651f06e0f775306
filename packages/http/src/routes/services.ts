import { isTraceparent } from '@core/contracts'
import type { CallOptions } from '@core/kernel'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { FastifyInstance } from 'fastify'
import Type from 'typebox'
import { SERVICES_PATH } from '../openapi.js'
import { permit, permits } from '../policy.js'
import { type ApiContext, principalOf } from './context.js'

/**
 * Registers `GET /api/v1/services` and `POST /api/v1/services/{name}` (documented per service
 * by `buildOpenApi`, from the registry).
 * @internal
 */
export function registerServiceRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const api = app.withTypeProvider<TypeBoxTypeProvider>()
  const { kernel } = ctx

  api.get(
    SERVICES_PATH,
    {
      schema: {
        tags: ['services'],
        summary: 'List the services this token may call',
        response: { 200: Type.Array(Type.Object({}, { additionalProperties: true })) },
      },
    },
    async (request) => {
      const principal = principalOf(request)
      return kernel.services
        .list()
        .filter((s) => permits(kernel.security, principal, 'services.call', s.name))
    },
  )

  // Documented per service by buildOpenApi, from the registry; hidden here.
  api.post(`${SERVICES_PATH}/:name`, { schema: { hide: true } }, async (request, reply) => {
    const principal = principalOf(request)
    const { name } = request.params as { name: string }
    permit(kernel.security, principal, 'services.call', name)
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
}
