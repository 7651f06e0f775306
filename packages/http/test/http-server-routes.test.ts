import { validate } from '@readme/openapi-parser'
import type { OpenAPIV3_1 } from 'openapi-types'
import Type from 'typebox'
import { describe, expect, it } from 'vitest'
import { lightsPlugin, startHub } from './helpers.js'
import { problem } from './http-server-helpers.js'

describe('state over HTTP', () => {
  it('writes, reads, lists and deletes keys with revisions', async () => {
    const hub = await startHub()
    const put = await hub.call('/api/v1/state/lights/kitchen.main', {
      method: 'PUT',
      body: { value: { on: true } },
    })
    expect(put.status).toBe(200)
    const entry = (await put.json()) as { revision: number; value: unknown }
    expect(entry.value).toEqual({ on: true })
    expect(entry.revision).toBeGreaterThan(0)

    const get = await hub.call('/api/v1/state/lights/kitchen.main')
    expect(get.status).toBe(200)
    expect(await get.json()).toMatchObject({ value: { on: true }, revision: entry.revision })

    await hub.call('/api/v1/state/lights/hall', { method: 'PUT', body: { value: 1 } })
    const list = (await (await hub.call('/api/v1/state/lights')).json()) as Array<{ key: string }>
    expect(list.map((i) => i.key)).toEqual(['hall', 'kitchen.main'])
    const below = (await (await hub.call('/api/v1/state/lights?prefix=kitchen')).json()) as Array<{
      key: string
    }>
    expect(below.map((i) => i.key)).toEqual(['kitchen.main'])

    const del = await hub.call('/api/v1/state/lights/kitchen.main', { method: 'DELETE' })
    expect(del.status).toBe(204)
    const gone = await hub.call('/api/v1/state/lights/kitchen.main')
    expect(gone.status).toBe(404)
    expect((await problem(gone)).code).toBe('E_NOT_FOUND')
    const delAgain = await hub.call('/api/v1/state/lights/kitchen.main', { method: 'DELETE' })
    expect(delAgain.status).toBe(404)
  })

  it('answers a stale ifRevision with 409 E_CONFLICT', async () => {
    const hub = await startHub()
    const first = (await (
      await hub.call('/api/v1/state/lights/k', { method: 'PUT', body: { value: 1 } })
    ).json()) as { revision: number }
    const ok = await hub.call('/api/v1/state/lights/k', {
      method: 'PUT',
      body: { value: 2, ifRevision: first.revision },
    })
    expect(ok.status).toBe(200)
    const stale = await hub.call('/api/v1/state/lights/k', {
      method: 'PUT',
      body: { value: 3, ifRevision: first.revision },
    })
    expect(stale.status).toBe(409)
    expect((await problem(stale)).code).toBe('E_CONFLICT')
    const create = await hub.call('/api/v1/state/lights/k', {
      method: 'PUT',
      body: { value: 3, ifRevision: 0 },
    })
    expect(create.status).toBe(409)
  })

  it('answers a bad namespace or key with 400', async () => {
    const hub = await startHub()
    const ns = await hub.call('/api/v1/state/Bad_NS/k', { method: 'PUT', body: { value: 1 } })
    expect(ns.status).toBe(400)
    const key = await hub.call('/api/v1/state/lights/a..b', { method: 'PUT', body: { value: 1 } })
    expect(key.status).toBe(400)
  })

  it('checks state.read and state.write scopes on <namespace>.<key>', async () => {
    const hub = await startHub()
    await hub.call('/api/v1/state/lights/kitchen', { method: 'PUT', body: { value: 1 } })
    await hub.call('/api/v1/state/lights/secret.door', { method: 'PUT', body: { value: 2 } })
    const { token } = await hub.http.tokens.create({
      name: 'reader',
      scopes: ['state.read:lights.kitchen', 'state.write:lights.kitchen'],
    })
    expect((await hub.call('/api/v1/state/lights/kitchen', { token })).status).toBe(200)
    expect((await hub.call('/api/v1/state/lights/secret.door', { token })).status).toBe(403)
    const list = (await (await hub.call('/api/v1/state/lights', { token })).json()) as Array<{
      key: string
    }>
    expect(list.map((i) => i.key)).toEqual(['kitchen'])
    expect((await hub.call('/api/v1/state/other', { token })).status).toBe(403)
    const write = await hub.call('/api/v1/state/lights/secret.door', {
      method: 'PUT',
      token,
      body: { value: 3 },
    })
    expect(write.status).toBe(403)
  })
})

describe('events publish over HTTP', () => {
  it('publishes the body as the data of a CloudEvent and answers 202', async () => {
    const hub = await startHub()
    const seen: unknown[] = []
    hub.kernel.bus.subscribe('lights.#', (event) => {
      seen.push(event)
    })
    const res = await hub.call('/api/v1/events/lights.kitchen.changed', {
      method: 'POST',
      body: { on: true },
      headers: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' },
    })
    expect(res.status).toBe(202)
    const report = (await res.json()) as { id: string; matched: number }
    expect(report.matched).toBe(1)
    await expect.poll(() => seen.length, { timeout: 3_000 }).toBe(1)
    expect(seen[0]).toMatchObject({
      id: report.id,
      type: 'lights.kitchen.changed',
      source: '/core/http',
      data: { on: true },
      specversion: '1.0',
    })
    expect((seen[0] as { traceparent?: string }).traceparent).toMatch(
      /^00-0af7651916cd43dd8448eb211c80319c-/,
    )
  })

  it('refuses a malformed event type with 400 and needs events.publish', async () => {
    const hub = await startHub()
    const bad = await hub.call('/api/v1/events/lights..x', { method: 'POST', body: 1 })
    expect(bad.status).toBe(400)
    const { token } = await hub.http.tokens.create({
      name: 'p',
      scopes: ['events.publish:lights.#'],
    })
    expect(
      (await hub.call('/api/v1/events/lights.x', { method: 'POST', token, body: 1 })).status,
    ).toBe(202)
    expect(
      (await hub.call('/api/v1/events/doors.x', { method: 'POST', token, body: 1 })).status,
    ).toBe(403)
  })
})

describe('plugins and health over HTTP', () => {
  it('lists plugins and reloads one', async () => {
    const hub = await startHub()
    const list = (await (await hub.call('/api/v1/plugins')).json()) as Array<{
      name: string
      state: string
      version: string
    }>
    expect(list).toEqual([
      expect.objectContaining({ name: 'lights', state: 'started', version: '1.2.3' }),
    ])
    const reload = await hub.call('/api/v1/plugins/lights/reload', { method: 'POST' })
    expect(reload.status).toBe(200)
    expect(await reload.json()).toMatchObject({ name: 'lights', state: 'started', reloads: 1 })
    const missing = await hub.call('/api/v1/plugins/nope/reload', { method: 'POST' })
    expect(missing.status).toBe(404)
    expect((await problem(missing)).code).toBe('E_NOT_FOUND')
  })

  it('answers /health 200 when healthy or degraded and 503 when unhealthy', async () => {
    const failing = {
      manifest: { name: 'flaky', coreApi: '^1.0.0' },
      plugin: {
        setup() {
          throw new Error('no device')
        },
      },
    }
    const hub = await startHub({}, { plugins: [lightsPlugin, failing] })
    const degraded = await hub.call('/health', { token: null })
    expect(degraded.status).toBe(200)
    expect(await degraded.json()).toMatchObject({ status: 'degraded' })
    await hub.kernel.stop()
    const unhealthy = await hub.call('/health', { token: null })
    expect(unhealthy.status).toBe(503)
    const body = (await unhealthy.json()) as { status: string; components: Record<string, unknown> }
    expect(body.status).toBe('unhealthy')
    expect(body.components).toHaveProperty('kernel')
  })
})

describe('OpenAPI and docs', () => {
  it('serves an OpenAPI 3.1 document that passes a standard validator', async () => {
    const hub = await startHub()
    const res = await hub.call('/openapi.json', { token: null })
    expect(res.status).toBe(200)
    const doc = (await res.json()) as OpenAPIV3_1.Document
    expect(doc.openapi).toBe('3.1.0')
    const result = await validate(structuredClone(doc) as never)
    expect(result.valid ? [] : result.errors).toEqual([])
    expect(result.valid).toBe(true)
  })

  it('has one operation per service with its schemas, description and version', async () => {
    const hub = await startHub()
    const doc = (await (await hub.call('/openapi.json')).json()) as OpenAPIV3_1.Document
    const op = doc.paths?.['/api/v1/services/lights.set']?.post as Record<string, unknown>
    expect(op.summary).toBe('lights.set v2.0.0')
    expect(op.description).toBe('Switches the lights of a room')
    expect(op['x-core-service']).toMatchObject({ name: 'lights.set', version: '2.0.0' })
    const params = doc.components?.schemas?.['lights.set.params'] as Record<string, unknown>
    expect(params).toMatchObject({ type: 'object', required: ['room', 'on'] })
    expect(doc.components?.schemas?.['lights.set.result']).toMatchObject({ type: 'object' })
    for (const path of [
      '/api/v1/state/{namespace}/{key}',
      '/api/v1/events',
      '/api/v1/tokens',
      '/health',
      '/metrics',
    ]) {
      expect(Object.keys(doc.paths ?? {})).toContain(path)
    }
  })

  it('follows the registry live: a service registered later appears, with hoisted $defs', async () => {
    const hub = await startHub()
    const Point = Type.Object({ x: Type.Number(), y: Type.Number() })
    const undo = hub.kernel.services.register('geo.move', async () => null, {
      params: {
        type: 'object',
        $defs: { Point },
        properties: { from: { $ref: '#/$defs/Point' }, to: { $ref: '#/$defs/Point' } },
      },
      version: '0.3.0',
    })
    const doc = (await (await hub.call('/openapi.json')).json()) as OpenAPIV3_1.Document
    expect(doc.paths).toHaveProperty(['/api/v1/services/geo.move'])
    expect(doc.components?.schemas).toHaveProperty(['geo.move.params.Point'])
    const result = await validate(structuredClone(doc) as never)
    expect(result.valid ? [] : result.errors).toEqual([])
    const call = await hub.call('/api/v1/services/geo.move', {
      method: 'POST',
      body: { from: { x: 1, y: 2 }, to: { x: 'far' } },
    })
    expect(call.status).toBe(400)
    undo()
    const after = (await (await hub.call('/openapi.json')).json()) as OpenAPIV3_1.Document
    expect(after.paths).not.toHaveProperty(['/api/v1/services/geo.move'])
  })

  it('serves an interactive docs page and its assets', async () => {
    const hub = await startHub()
    const page = await hub.call('/docs', { token: null })
    expect(page.headers.get('content-type')).toMatch(/^text\/html/)
    const html = await page.text()
    expect(html).toContain('swagger-ui')
    for (const src of html.match(/\/docs\/static\/[\w.-]+/g) ?? []) {
      const asset = await hub.call(src, { token: null })
      expect({ src, status: asset.status }).toEqual({ src, status: 200 })
    }
    const init = await (await hub.call('/docs/static/init.js', { token: null })).text()
    expect(init).toContain('/openapi.json')
    expect((await hub.call('/docs/static/..%2Fpackage.json', { token: null })).status).toBe(404)
  })
})
