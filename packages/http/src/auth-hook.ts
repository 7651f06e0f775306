import type { Logger } from '@core/contracts'
import fastifyRateLimit from '@fastify/rate-limit'
import type { FastifyInstance } from 'fastify'
import {
  type Access,
  type Authenticator,
  createAccessHooks,
  type FailureCounter,
} from './access.js'
import type { TokenStore } from './tokens.js'

/** What {@link addAuthHook} needs. @internal */
export interface AuthHookOptions {
  /** `false`: every request acts as an admin (loopback servers only, checked by the caller). */
  auth: boolean
  tokens: TokenStore
  authenticator: Authenticator
  /** Loopback clients read the metrics and docs without a token. */
  loopbackMeta: boolean
  logger: Logger
  /** Failed authentications allowed per client address and window. */
  authFailures: { max: number; windowMs: number }
}

/**
 * Puts the access hook first in the `onRequest` hooks of every route: the route's
 * `config.access` (default `token` under `/api/`, else `public`) says which one, and it sets the
 * request's principal or refuses with 401/403. Failed authentications are counted per client
 * address with @fastify/rate-limit (429 past the limit); valid tokens never reach the limiter.
 *
 * Hooks are attached per route (not globally) so that they know their route statically:
 * Fastify builds a new object for each read of `request.routeOptions`.
 *
 * @returns Call it inside the plugin that registers the routes (after @fastify/rate-limit has
 *   loaded) to arm the failure counter.
 * @internal
 */
export function addAuthHook(
  app: FastifyInstance,
  options: AuthHookOptions,
): (scoped: FastifyInstance) => void {
  let countFailure: FailureCounter | undefined
  const hooks = createAccessHooks({
    tokens: options.tokens,
    authenticator: options.authenticator,
    loopbackMeta: options.loopbackMeta,
    logger: options.logger,
    countFailure: (request) => countFailure?.(request),
  })

  // Counts failed authentications only (see `refuse` in access.ts).
  void app.register(fastifyRateLimit, {
    global: false,
    max: options.authFailures.max,
    timeWindow: options.authFailures.windowMs,
    keyGenerator: (request) => request.ip,
  })

  app.addHook('onRoute', (route) => {
    const access =
      (route.config as { access?: Access } | undefined)?.access ??
      (route.url.startsWith('/api/') ? 'token' : 'public')
    const first = !options.auth ? hooks.anonymous : hooks[access]
    route.onRequest = [first, ...asArray(route.onRequest)]
  })

  return (scoped) => {
    countFailure = scoped.createRateLimit() as FailureCounter
  }
}

/** Fastify's hook lists: one hook, several, or none. @internal */
export function asArray<T>(value: T | T[] | undefined): T[] {
  return value === undefined ? [] : Array.isArray(value) ? value : [value]
}
