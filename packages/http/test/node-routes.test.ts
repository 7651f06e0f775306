import { randomUUID } from 'node:crypto'
import { silentLogger } from '@core/contracts'
import { createKernel } from '@core/kernel'
import { createNodeRegistry, type NodeRegistry } from '@core/node-registry'
import { afterEach, describe, expect, it } from 'vitest'
import { createHttpServer, registerNodeRoutes } from '../src/index.js'
import { ADMIN_TOKEN } from './helpers.js'

const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined)
})

async function serve(): Promise<{
  registry: NodeRegistry
  get: (path: string, token?: string | null) => Promise<Response>
}> {
  const kernel = createKernel({ logger: silentLogger })
  await kernel.start()
  cleanups.push(() => kernel.stop())
  const registry = createNodeRegistry()
  cleanups.push(() => registry.close())
  const http = createHttpServer(kernel, {
    adminToken: ADMIN_TOKEN,
    logger: silentLogger,
    processMetrics: false,
  })
  registerNodeRoutes(http, registry)
  cleanups.push(() => http.close())
  const { url } = await http.listen({ host: '127.0.0.1', port: 0 })
  const get = (path: string, token: string | null = ADMIN_TOKEN) =>
    fetch(`${url}${path}`, { headers: token === null ? {} : { authorization: `Bearer ${token}` } })
  return { registry, get }
}

const passport = (name: string, nodeType: string, labels: Record<string, string>) => ({
  apiVersion: 'core.runtime/v1',
  kind: 'NodePassport',
  metadata: { uid: randomUUID(), name, nodeType, labels },
  spec: { capabilities: { services: [{ name: 'lights.toggle', version: '1.0.0' }] } },
})

describe('node routes', () => {
  it('should list nodes filtered by labelSelector, kind and onlyHealthy', async () => {
    const { registry, get } = await serve()
    const kitchen = passport('kitchen-hub', 'hub', { room: 'kitchen', floor: '1' })
    await registry.register(kitchen)
    await registry.register(passport('hall-agent', 'agent', { room: 'hall' }))
    const all = (await (await get('/api/v1/nodes')).json()) as Array<{ nodeId: string }>
    expect(all).toHaveLength(2)
    const selected = await get(
      `/api/v1/nodes?labelSelector=${encodeURIComponent('room=kitchen,floor>0')}&onlyHealthy=true`,
    )
    expect(selected.status).toBe(200)
    expect(((await selected.json()) as Array<{ nodeId: string }>).map((e) => e.nodeId)).toEqual([
      kitchen.metadata.uid,
    ])
    const agents = (await (await get('/api/v1/nodes?kind=agent')).json()) as Array<{
      nodeKind: string
    }>
    expect(agents.map((e) => e.nodeKind)).toEqual(['agent'])
  })

  it('should answer one node by uid, and 404 E_NOT_FOUND for an unknown one', async () => {
    const { registry, get } = await serve()
    const p = passport('kitchen-hub', 'hub', { room: 'kitchen' })
    await registry.register(p)
    const found = await get(`/api/v1/nodes/${p.metadata.uid}`)
    expect(await found.json()).toMatchObject({
      nodeId: p.metadata.uid,
      healthState: 'ALIVE',
      passport: p,
    })
    const missing = await get(`/api/v1/nodes/${randomUUID()}`)
    expect(missing.status).toBe(404)
    expect(await missing.json()).toMatchObject({ code: 'E_NOT_FOUND' })
  })

  it('should refuse a bad selector with 400 E_VALIDATION naming the position, and need a token', async () => {
    const { get } = await serve()
    const bad = await get(`/api/v1/nodes?labelSelector=${encodeURIComponent('room in kitchen')}`)
    expect(bad.status).toBe(400)
    const problem = (await bad.json()) as { code: string; detail: string }
    expect(problem.code).toBe('E_VALIDATION')
    expect(problem.detail).toContain('position 8')
    expect((await get('/api/v1/nodes', null)).status).toBe(401)
  })

  it('should export a gauge of nodes per health state and document the routes', async () => {
    const { registry, get } = await serve()
    await registry.register(passport('a', 'hub', {}))
    const metrics = await (await get('/metrics')).text()
    expect(metrics).toContain('core_nodes{state="ALIVE"} 1')
    expect(metrics).toContain('core_nodes{state="OFFLINE"} 0')
    const openapi = (await (await get('/openapi.json')).json()) as {
      paths: Record<string, unknown>
      tags: { name: string }[]
    }
    expect(Object.keys(openapi.paths)).toEqual(
      expect.arrayContaining(['/api/v1/nodes', '/api/v1/nodes/{uid}']),
    )
    expect(openapi.tags.map((tag) => tag.name)).toContain('nodes')
  })
})
