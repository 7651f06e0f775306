import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { FastifyInstance } from 'fastify'
import Type from 'typebox'
import { requireAdmin } from '../auth.js'
import { type ApiContext, principalOf, withTimeout } from './context.js'

const AnyObject = Type.Object({}, { additionalProperties: true })

/**
 * Registers `GET /api/v1/plugins` and `POST /api/v1/plugins/{name}/reload` (admin).
 * @internal
 */
export function registerPluginRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const api = app.withTypeProvider<TypeBoxTypeProvider>()
  const { kernel } = ctx

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
      return withTimeout(kernel.plugins.list(), ctx.routeTimeoutMs, 'Listing plugins')
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
      return withTimeout(
        kernel.plugins.reload(name),
        ctx.reloadTimeoutMs,
        `Reloading plugin "${name}"`,
      )
    },
  )
}
