import { CoreError } from '@core/contracts'
import type { NodeRegistry } from '@core/node-registry'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Gauge } from 'prom-client'
import Type from 'typebox'
import type { HttpServer } from './types.js'

/** What the node routes read from a node registry. @public */
export type NodeDirectory = Pick<NodeRegistry, 'get' | 'findNodes' | 'counts'>

const NodeEntrySchema = Type.Object(
  {
    nodeId: Type.String({ description: 'passport.metadata.uid' }),
    nodeKind: Type.String({ description: 'passport.metadata.nodeType' }),
    passport: Type.Object(
      {},
      { additionalProperties: true, description: 'The NodePassport as registered' },
    ),
    lastSeen: Type.Integer({ description: 'epoch ms of the last heartbeat seen' }),
    healthState: Type.Enum(['ALIVE', 'NOT_READY', 'OFFLINE']),
    registeredAt: Type.Integer({ description: 'epoch ms of the first registration' }),
  },
  { additionalProperties: true },
)

/**
 * Adds the node registry to an HTTP server, before `listen()`:
 *
 * - `GET /api/v1/nodes?labelSelector=…&kind=…&onlyHealthy=true`: the entries matching every
 *   given filter (Kubernetes label selector string syntax), ordered by name then uid;
 * - `GET /api/v1/nodes/{uid}`: one entry, or 404 `E_NOT_FOUND`;
 * - the gauge `core_nodes{state="ALIVE|NOT_READY|OFFLINE"}` on `GET /metrics`.
 *
 * Both routes need a token (any scope) when auth is on; they appear in the OpenAPI document.
 *
 * @param server - The HTTP server, not yet listening.
 * @param nodes - The node registry (or anything with its `get`, `findNodes`, `counts`).
 * @returns Nothing; the routes are registered with the server's other routes.
 * @throws {@link @core/contracts!CoreError} (per request, as RFC 9457 problems) `E_VALIDATION` (400) for a bad
 *   selector, with the position; `E_NOT_FOUND` (404) for an unknown uid.
 * @see Kubernetes API list options (`labelSelector`); Prometheus exposition format 0.0.4
 * @example
 * ```ts
 * const http = createHttpServer(kernel)
 * registerNodeRoutes(http, registry)
 * await http.listen()
 * ```
 * @public
 */
export function registerNodeRoutes(server: HttpServer, nodes: NodeDirectory): void {
  const gauge = new Gauge({
    name: 'core_nodes',
    help: 'Nodes in the node registry, by health state',
    labelNames: ['state'],
    registers: [server.metrics],
    collect() {
      for (const [state, count] of Object.entries(nodes.counts())) this.set({ state }, count)
    },
  })
  void gauge
  void server.app.register(async (scoped) => {
    const api = scoped.withTypeProvider<TypeBoxTypeProvider>()
    api.get(
      '/api/v1/nodes',
      {
        schema: {
          tags: ['nodes'],
          summary: 'List nodes of the node registry, filtered by label selector, kind and health',
          querystring: Type.Object({
            labelSelector: Type.Optional(
              Type.String({
                maxLength: 4096,
                description: 'Kubernetes label selector, e.g. room=kitchen,tier in (a,b),!gpu',
              }),
            ),
            kind: Type.Optional(Type.String({ maxLength: 63, description: 'nodeType, e.g. hub' })),
            onlyHealthy: Type.Optional(Type.Boolean({ description: 'Only ALIVE nodes' })),
          }),
          response: { 200: Type.Array(NodeEntrySchema) },
        },
      },
      async (request) => {
        const { labelSelector, kind, onlyHealthy } = request.query
        return nodes.findNodes({
          ...(labelSelector === undefined ? {} : { selector: labelSelector }),
          ...(kind === undefined ? {} : { kind }),
          ...(onlyHealthy === undefined ? {} : { onlyHealthy }),
        })
      },
    )
    api.get(
      '/api/v1/nodes/:uid',
      {
        schema: {
          tags: ['nodes'],
          summary: 'One node of the node registry',
          params: Type.Object({ uid: Type.String({ maxLength: 64 }) }),
          response: { 200: NodeEntrySchema },
        },
      },
      async (request) => {
        const entry = nodes.get(request.params.uid)
        if (entry !== undefined) return entry
        throw new CoreError(
          'E_NOT_FOUND',
          `No node "${request.params.uid}" in the node registry: list them with GET /api/v1/nodes`,
          { details: { uid: request.params.uid } },
        )
      },
    )
  })
}
