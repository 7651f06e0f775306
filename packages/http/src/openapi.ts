import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { cloneJson, namespaceOf, type ServiceDescriptor } from '@core/contracts'
import type { FastifyInstance } from 'fastify'
import { PROBLEM_CONTENT_TYPE } from './problem.js'

/** The path prefix of service calls. @internal */
export const SERVICES_PATH = '/api/v1/services'
/** `?node=` / `?selector=` of a service call: which hub of the cluster serves it. */
const ROUTE_PARAMETERS = [
  {
    name: 'node',
    in: 'query',
    required: false,
    description: 'Cluster mode: the uid of the hub that must serve the call',
    schema: { type: 'string' },
  },
  {
    name: 'selector',
    in: 'query',
    required: false,
    description: 'Cluster mode: only hubs whose labels match this Kubernetes label selector',
    schema: { type: 'string' },
  },
]

type Doc = Record<string, unknown> & {
  paths?: Record<string, Record<string, Record<string, unknown>>>
  components?: Record<string, Record<string, unknown>>
}

/**
 * The RFC 9457 problem schema, as JSON Schema 2020-12 (also the shape of every error body).
 * @internal
 */
export const PROBLEM_SCHEMA: Record<string, unknown> = {
  type: 'object',
  description: 'RFC 9457 problem details',
  required: ['type', 'title', 'status', 'detail', 'code'],
  properties: {
    type: { type: 'string', format: 'uri-reference' },
    title: { type: 'string' },
    status: { type: 'integer', minimum: 400, maximum: 599 },
    detail: { type: 'string' },
    code: { type: 'string', description: 'The stable CoreError code, e.g. E_VALIDATION' },
    instance: { type: 'string' },
    errors: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          path: { type: 'string', description: 'JSON Pointer (RFC 6901)' },
          keyword: { type: 'string' },
          message: { type: 'string' },
        },
      },
    },
    details: { type: 'object' },
  },
}

/**
 * The whole OpenAPI 3.1 document: the fixed routes as @fastify/swagger describes them, plus
 * one `POST /api/v1/services/<name>` operation per registered service (its highest version),
 * read from the registry at each call so that it follows plugins coming and going. Each
 * service's params and result schemas become `components.schemas` `<name>.params` and
 * `<name>.result` (their `$defs` hoisted next to them, local `$ref`s rewritten).
 * @internal
 */
export function buildOpenApi(
  app: FastifyInstance,
  services: readonly ServiceDescriptor[],
  auth: boolean,
): Record<string, unknown> {
  const doc = cloneJson((app as unknown as { swagger(): unknown }).swagger()) as Doc
  doc.paths ??= {}
  doc.components ??= {}
  doc.components.schemas ??= {}
  const schemas = doc.components.schemas
  schemas.Problem = PROBLEM_SCHEMA
  doc.components.responses = {
    ...doc.components.responses,
    Problem: {
      description: 'An error, as RFC 9457 problem details; `code` says which',
      content: { [PROBLEM_CONTENT_TYPE]: { schema: { $ref: '#/components/schemas/Problem' } } },
    },
  }
  for (const path of Object.values(doc.paths)) {
    for (const [method, op] of Object.entries(path)) {
      if (!METHODS.has(method)) continue
      op.responses ??= {}
      const responses = op.responses as Record<string, unknown>
      responses.default ??= { $ref: '#/components/responses/Problem' }
    }
  }
  const security = auth ? [{ bearerAuth: [] }] : []

  doc.paths[`${SERVICES_PATH}/{name}`] = {
    post: {
      operationId: 'callService',
      tags: ['services'],
      summary: 'Call any service by name',
      description:
        'The body is the params (no body = `{}`), checked against the service schema; a 200 body is the result. Each registered service also has its own path below.',
      parameters: [
        { name: 'name', in: 'path', required: true, schema: { type: 'string' } },
        ...ROUTE_PARAMETERS,
      ],
      requestBody: { required: false, content: { 'application/json': { schema: {} } } },
      responses: {
        '200': { description: 'The result', content: { 'application/json': { schema: {} } } },
        default: { $ref: '#/components/responses/Problem' },
      },
      security,
    },
  }

  const seen = new Set<string>()
  for (const service of services) {
    if (seen.has(service.name)) continue // list() gives the highest version first
    seen.add(service.name)
    const versions = services.filter((s) => s.name === service.name).map((s) => s.version)
    const params = hoist(service.params, `${service.name}.params`, schemas)
    const result =
      service.result === undefined ? {} : hoist(service.result, `${service.name}.result`, schemas)
    const op: Record<string, unknown> = {
      operationId: `call.${service.name}`,
      tags: ['services', namespaceOf(service.name)],
      summary: `${service.name} v${service.version}`,
      parameters: ROUTE_PARAMETERS,
      requestBody: { required: false, content: { 'application/json': { schema: params } } },
      responses: {
        '200': { description: 'The result', content: { 'application/json': { schema: result } } },
        default: { $ref: '#/components/responses/Problem' },
      },
      security,
      'x-core-service': {
        name: service.name,
        version: service.version,
        versions,
        timeoutMs: service.timeoutMs,
        idempotent: service.idempotent,
        ...(service.node === undefined ? {} : { node: service.node }),
      },
    }
    if (service.description !== undefined) op.description = service.description
    doc.paths[`${SERVICES_PATH}/${service.name}`] = { post: op }
  }
  return doc
}

const METHODS = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'])

/**
 * Puts a copy of `schema` in `schemas[name]` and returns a `$ref` to it. Top-level `$defs`
 * become `schemas["<name>.<def>"]`; `#/$defs/<def>` references are rewritten to them; the
 * top-level `$id` and `$schema` are dropped (the document is the resource).
 */
function hoist(
  schema: Record<string, unknown>,
  name: string,
  schemas: Record<string, unknown>,
): Record<string, unknown> {
  const copy = cloneJson(schema) as Record<string, unknown>
  const defs = copy.$defs as Record<string, unknown> | undefined
  delete copy.$defs
  delete copy.$id
  delete copy.$schema
  const rename = (def: string): string => `${name}.${def.replace(/[^A-Za-z0-9._-]/g, '_')}`
  const rewrite = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(rewrite)
    if (node === null || typeof node !== 'object') return node
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref' && typeof v === 'string' && v.startsWith('#/$defs/')) {
        out[k] = `#/components/schemas/${rename(decodeURIComponent(v.slice(8)))}`
      } else if (k === '$ref' && v === '#') {
        out[k] = `#/components/schemas/${name}`
      } else out[k] = rewrite(v)
    }
    return out
  }
  if (defs !== undefined) {
    for (const [def, value] of Object.entries(defs)) schemas[rename(def)] = rewrite(value)
  }
  schemas[name] = rewrite(copy)
  return { $ref: `#/components/schemas/${name}` }
}

/**
 * The HTML of `GET /docs`: Swagger UI, served locally from the copy `@fastify/swagger-ui` ships in
 * its `static/` folder (no install script; swagger-ui-dist's Scarf analytics postinstall is not
 * installed). @internal
 */
export const DOCS_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Core Runtime hub API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/docs/static/swagger-ui.css">
<link rel="icon" type="image/png" href="/docs/static/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/static/swagger-ui-bundle.js"></script>
<script src="/docs/static/swagger-ui-standalone-preset.js"></script>
<script src="/docs/static/init.js"></script>
</body>
</html>
`

const INIT_JS = `window.ui = SwaggerUIBundle({
  url: '/openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
  layout: 'StandaloneLayout',
})
`

/** The files `GET /docs/static/<file>` serves, with their media types. @internal */
export const DOCS_FILES: Readonly<Record<string, string>> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'swagger-ui-standalone-preset.js': 'text/javascript; charset=utf-8',
  'favicon-32x32.png': 'image/png',
  'init.js': 'text/javascript; charset=utf-8',
}

const cache = new Map<string, Promise<Buffer>>()

/** Reads one docs asset (cached in memory after the first read). @internal */
export function docsFile(file: string): Promise<Buffer> {
  let hit = cache.get(file)
  if (hit === undefined) {
    if (file === 'init.js') hit = Promise.resolve(Buffer.from(INIT_JS))
    else {
      const root = dirname(
        createRequire(import.meta.url).resolve('@fastify/swagger-ui/package.json'),
      )
      hit = readFile(join(root, 'static', file))
    }
    cache.set(file, hit)
    hit.catch(() => cache.delete(file))
  }
  return hit
}
