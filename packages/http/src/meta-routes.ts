import { CoreError } from '@core/contracts'
import type { Kernel } from '@core/kernel'
import type { FastifyInstance } from 'fastify'
import type { Access } from './access.js'
import type { HttpMetrics } from './metrics.js'
import { buildOpenApi, DOCS_FILES, DOCS_HTML, docsFile } from './openapi.js'
import type { PublicRoutes } from './types.js'

/** What {@link registerMetaRoutes} needs. @internal */
export interface MetaRoutesOptions {
  kernel: Kernel
  metrics: HttpMetrics
  /** Which meta routes answer without a token (all keys set). */
  publicRoutes: Required<PublicRoutes>
  /** Whether bearer tokens are required at all. */
  auth: boolean
}

/**
 * Registers the routes outside `/api`: `GET /health` (200 healthy/degraded, 503 unhealthy),
 * `GET /metrics` (Prometheus text), `GET /openapi.json` (OpenAPI 3.1, live from the registry),
 * `GET /docs` and its assets (Swagger UI, served locally).
 * @internal
 */
export function registerMetaRoutes(app: FastifyInstance, options: MetaRoutesOptions): void {
  const { kernel, metrics, publicRoutes, auth } = options
  const access = (open: boolean, what?: 'metrics' | 'docs'): { access: Access } => ({
    access: open ? 'public' : (what ?? 'token'),
  })
  const security = (open: boolean): Array<Record<string, string[]>> =>
    open || !auth ? [] : [{ bearerAuth: [] }]

  app.get(
    '/health',
    {
      config: access(publicRoutes.health),
      schema: {
        tags: ['meta'],
        summary: 'Health of the kernel, its components and plugins',
        description:
          '200 when healthy or degraded, 503 when unhealthy; the body is kernel.health().',
        security: security(publicRoutes.health),
        response: {
          200: { type: 'object', additionalProperties: true },
          503: { type: 'object', additionalProperties: true },
        },
      },
    },
    async (_request, reply) => {
      const report = await kernel.health()
      return reply.code(report.status === 'unhealthy' ? 503 : 200).send(report)
    },
  )

  app.get(
    '/metrics',
    {
      config: access(publicRoutes.metrics, 'metrics'),
      schema: {
        tags: ['meta'],
        summary: 'Prometheus metrics (text exposition format 0.0.4)',
        security: security(publicRoutes.metrics),
        response: {
          200: {
            description: 'Metrics',
            content: { 'text/plain': { schema: { type: 'string' } } },
          },
        },
      },
    },
    async (_request, reply) => {
      const { contentType, text } = await metrics.scrape()
      return reply.type(contentType).send(text)
    },
  )

  app.get(
    '/openapi.json',
    {
      config: access(publicRoutes.docs, 'docs'),
      schema: {
        tags: ['meta'],
        summary: 'This OpenAPI 3.1 document, generated from the live service registry',
        security: security(publicRoutes.docs),
        response: { 200: { type: 'object', additionalProperties: true } },
      },
    },
    async (_request, reply) =>
      reply
        .type('application/json; charset=utf-8')
        .send(JSON.stringify(buildOpenApi(app, kernel.services.list(), auth))),
  )

  app.get(
    '/docs',
    {
      config: access(publicRoutes.docs, 'docs'),
      schema: { hide: true },
    },
    async (_request, reply) =>
      reply
        .type('text/html; charset=utf-8')
        .header('content-security-policy', DOCS_CSP)
        .send(DOCS_HTML),
  )

  app.get(
    '/docs/static/:file',
    { config: access(publicRoutes.docs, 'docs'), schema: { hide: true } },
    async (request, reply) => {
      const { file } = request.params as { file: string }
      const type = DOCS_FILES[file]
      if (type === undefined) throw new CoreError('E_NOT_FOUND', `No docs asset "${file}"`)
      const body = await docsFile(file)
      return reply.type(type).header('cache-control', 'public, max-age=3600').send(body)
    },
  )
}

const DOCS_CSP =
  "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'"
