import { CoreError, silentLogger } from '@core/contracts'
import { createKernel } from '@core/kernel'
import { afterEach, describe, expect, it } from 'vitest'
import { type ControlSender, createHttpServer, registerControlRoutes } from '../src/index.js'
import { ADMIN_TOKEN } from './helpers.js'

const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined)
})

async function serve(sender: ControlSender) {
  const kernel = createKernel({ logger: silentLogger })
  await kernel.start()
  cleanups.push(() => kernel.stop())
  const http = createHttpServer(kernel, {
    adminToken: ADMIN_TOKEN,
    logger: silentLogger,
    processMetrics: false,
  })
  registerControlRoutes(http, sender)
  cleanups.push(() => http.close())
  const { url } = await http.listen({ host: '127.0.0.1', port: 0 })
  const post = (body: unknown, token: string = ADMIN_TOKEN) =>
    fetch(`${url}/api/v1/control`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
  return { http, post, url }
}

describe('POST /api/v1/control', () => {
  it('should send ctl.<target>.<scope> and answer 202 with the routing key', async () => {
    const sent: unknown[] = []
    const { post } = await serve({
      control: async (target, scope, data) => {
        sent.push({ target, scope, data })
      },
    })
    const res = await post({ target: 'all', scope: 'pause', data: { reason: 'maintenance' } })
    expect(res.status).toBe(202)
    expect(await res.json()).toEqual({ routingKey: 'ctl.all.pause' })
    expect(sent).toEqual([{ target: 'all', scope: 'pause', data: { reason: 'maintenance' } }])
  })

  it('should refuse a token without the admin scope with 403 E_FORBIDDEN', async () => {
    const sent: unknown[] = []
    const { http, post } = await serve({
      control: async (target) => {
        sent.push(target)
      },
    })
    const { token } = await http.tokens.create({ name: 'caller', scopes: ['services.call:#'] })
    const res = await post({ target: 'all', scope: 'stop' }, token)
    expect(res.status).toBe(403)
    expect(res.headers.get('content-type')).toContain('application/problem+json')
    expect(await res.json()).toMatchObject({ code: 'E_FORBIDDEN' })
    expect(sent).toEqual([])
  })

  it('should refuse an unknown scope or a target that is not one routing-key word with 400', async () => {
    const { post } = await serve({ control: async () => undefined })
    for (const body of [
      { target: 'all', scope: 'reboot' },
      { target: 'all.kitchen', scope: 'stop' },
      { target: 'all' },
    ]) {
      const res = await post(body)
      expect(res.status).toBe(400)
      expect(await res.json()).toMatchObject({ code: 'E_VALIDATION' })
    }
  })

  it('should answer 503 E_UNAVAILABLE when the signal cannot be sent', async () => {
    const { post } = await serve({
      control: () =>
        Promise.reject(new CoreError('E_UNAVAILABLE', 'Cluster mode is off: set CORE_AMQP_URL')),
    })
    const res = await post({ target: 'all', scope: 'shutdown' })
    expect(res.status).toBe(503)
    expect(await res.json()).toMatchObject({ code: 'E_UNAVAILABLE' })
  })

  it('should be described in the OpenAPI document under the control tag', async () => {
    const { url } = await serve({ control: async () => undefined })
    const doc = (await (
      await fetch(`${url}/openapi.json`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
    ).json()) as { paths: Record<string, { post?: { tags?: string[] } }> }
    expect(doc.paths['/api/v1/control']?.post?.tags).toEqual(['control'])
  })
})
