import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { FastifyInstance } from 'fastify'
import Type from 'typebox'
import { requireAdmin } from '../auth.js'
import { type ApiContext, principalOf, withTimeout } from './context.js'

const TokenInfo = Type.Object({
  id: Type.String(),
  name: Type.String(),
  scopes: Type.Array(Type.String()),
  createdAt: Type.Integer({ description: 'epoch ms' }),
  lastUsedAt: Type.Optional(Type.Integer({ description: 'epoch ms' })),
})

/**
 * Registers `POST`/`GET /api/v1/tokens` and `DELETE /api/v1/tokens/{id}` (admin).
 * @internal
 */
export function registerTokenRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const api = app.withTypeProvider<TypeBoxTypeProvider>()
  const timed = <T>(work: Promise<T>, what: string): Promise<T> =>
    withTimeout(work, ctx.routeTimeoutMs, what)

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
        response: { 204: Type.Null({ description: 'Done; no body' }) },
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
