import type { FastifyInstance } from 'fastify'
import type { ApiContext } from './routes/context.js'
import { registerEventRoutes } from './routes/events.js'
import { registerPluginRoutes } from './routes/plugins.js'
import { registerServiceRoutes } from './routes/services.js'
import { registerStateRoutes } from './routes/state.js'
import { registerTokenRoutes } from './routes/tokens.js'

/**
 * Registers the `/api/v1` routes, one family per module of `routes/`: services, state, events,
 * plugins, tokens.
 * @internal
 */
export function registerApiRoutes(app: FastifyInstance, ctx: ApiContext): void {
  registerServiceRoutes(app, ctx)
  registerStateRoutes(app, ctx)
  registerEventRoutes(app, ctx)
  registerPluginRoutes(app, ctx)
  registerTokenRoutes(app, ctx)
}
