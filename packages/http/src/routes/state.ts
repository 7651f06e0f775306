import { CoreError, StateEntrySchema } from '@core/contracts'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { FastifyInstance } from 'fastify'
import Type from 'typebox'
import { touches } from '../auth.js'
import { permit, permits } from '../policy.js'
import { type ApiContext, principalOf, withTimeout } from './context.js'

const Namespace = Type.String({ description: 'State namespace (usually a plugin name)' })
const Key = Type.String({ description: 'State key: dot-separated words' })
/** One item of a namespace listing: the contracts' state entry plus its key. */
const StateItem = Type.Object({
  key: Type.String({ description: 'The key inside the namespace' }),
  ...StateEntrySchema.properties,
})

/**
 * Registers `GET /api/v1/state/{namespace}` and `GET`/`PUT`/`DELETE
 * /api/v1/state/{namespace}/{key}`; bodies are the contracts' `StateEntry`.
 * @internal
 */
export function registerStateRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const api = app.withTypeProvider<TypeBoxTypeProvider>()
  const { kernel } = ctx
  const timed = <T>(work: Promise<T>, what: string): Promise<T> =>
    withTimeout(work, ctx.routeTimeoutMs, what)

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
        permit(kernel.security, principal, 'state.read', `${namespace}.#`)
      }
      const { prefix } = request.query
      const items = await timed(
        kernel.state.list(namespace, prefix === undefined ? {} : { prefix }),
        `Listing state of "${namespace}"`,
      )
      return items.filter((item) =>
        permits(kernel.security, principal, 'state.read', `${namespace}.${item.key}`),
      )
    },
  )

  api.get(
    '/api/v1/state/:namespace/:key',
    {
      schema: {
        tags: ['state'],
        summary: 'Read one state key',
        params: Type.Object({ namespace: Namespace, key: Key }),
        response: { 200: StateEntrySchema },
      },
    },
    async (request) => {
      const { namespace, key } = request.params
      permit(kernel.security, principalOf(request), 'state.read', `${namespace}.${key}`)
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
        response: { 200: StateEntrySchema },
      },
    },
    async (request) => {
      const { namespace, key } = request.params
      permit(kernel.security, principalOf(request), 'state.write', `${namespace}.${key}`)
      const { value, ifRevision, ttlMs } = request.body
      const options: { ifRevision?: number; ttlMs?: number } = {}
      if (ifRevision !== undefined) options.ifRevision = ifRevision
      if (ttlMs !== undefined) options.ttlMs = ttlMs
      const entry = await timed(
        kernel.state.set(namespace, key, value, options),
        `Writing ${namespace}/${key}`,
      )
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
        response: { 204: Type.Null({ description: 'Done; no body' }) },
      },
    },
    async (request, reply) => {
      const { namespace, key } = request.params
      permit(kernel.security, principalOf(request), 'state.write', `${namespace}.${key}`)
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
}
