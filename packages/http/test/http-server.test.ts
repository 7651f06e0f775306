import { CORE_ERROR_CODES, CoreError, silentLogger } from '@core/contracts'
import { createKernel } from '@core/kernel'
import { validate } from '@readme/openapi-parser'
import type { OpenAPIV3_1 } from 'openapi-types'
import Type from 'typebox'
import { describe, expect, it } from 'vitest'
import { createHttpServer, HIDDEN_CODES, STATUS_BY_CODE } from '../src/index.js'
import { ADMIN_TOKEN, lightsPlugin, onCleanup, startHub, until, waits } from './helpers.js'

const PROBLEM = 'application/problem+json'

async function problem(res: Response): Promise<Record<string, unknown>> {
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/)
  return (await res.json()) as Record<string, unknown>
}

describe('service calls over HTTP', () => {
  it('answers a valid call with 200 and the result as JSON', async () => {
    const hub = await startHub()
    const res = await hub.call('/api/v1/services/lights.set', {
      method: 'POST',
      body: { room: 'kitchen', on: true, level: 40 },
    })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^application\/json/)
    expect(await res.json()).toEqual({ room: 'kitchen', on: true, level: 40 })
  })

  it('sends results that are strings, numbers or null as JSON', async () => {
    const hub = await startHub()
    for (const value of ['hello', 42, null, [1, 'a'], false]) {
      const res = await hub.call('/api/v1/services/lights.echo', {
        method: 'POST',
        body: JSON.stringify(value),
      })
      expect(res.status).toBe(200)
      expect(res.headers.get('content-type')).toMatch(/^application\/json/)
      expect(await res.json()).toEqual(value)
    }
  })

  it('calls with {} as params when the request has no body', async () => {
    const hub = await startHub()
    const res = await hub.call('/api/v1/services/lights.echo', { method: 'POST' })
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({})
  })

  it('refuses params that fail the service schema with 400 and the failing paths', async () => {
    const hub = await startHub()
    const res = await hub.call('/api/v1/services/lights.set', {
      method: 'POST',
      body: { room: 'kitchen', level: 400 },
    })
    expect(res.status).toBe(400)
    const body = await problem(res)
    expect(body).toMatchObject({
      type: 'https://core-runtime.dev/errors/E_VALIDATION',
      status: 400,
      code: 'E_VALIDATION',
      instance: '/api/v1/services/lights.set',
    })
    expect(body.detail).toContain('lights.set')
    const paths = (body.errors as Array<{ path: string }>).map((e) => e.path)
    expect(paths.some((p) => p === '/on' || p === '/level')).toBe(true)
  })

  it('answers an unknown service with 404 E_SERVICE_NOT_FOUND', async () => {
    const hub = await startHub()
    const res = await hub.call('/api/v1/services/lights.explode', { method: 'POST', body: {} })
    expect(res.status).toBe(404)
    expect(await problem(res)).toMatchObject({ code: 'E_SERVICE_NOT_FOUND', status: 404 })
  })

  it('answers a malformed service name with 400', async () => {
    const hub = await startHub()
    const res = await hub.call('/api/v1/services/NoDot', { method: 'POST', body: {} })
    expect([400, 404]).toContain(res.status)
    expect((await problem(res)).code).toMatch(/E_VALIDATION|E_SERVICE_NOT_FOUND/)
  })

  it('maps every CoreError code a handler throws to its HTTP status', async () => {
    const hub = await startHub()
    const expected: Record<string, number> = {
      E_VALIDATION: 400,
      E_UNAUTHENTICATED: 401,
      E_FORBIDDEN: 403,
      E_NOT_FOUND: 404,
      E_SERVICE_NOT_FOUND: 404,
      E_CONFLICT: 409,
      E_UNAVAILABLE: 503,
      E_TIMEOUT: 504,
    }
    for (const code of CORE_ERROR_CODES) {
      const res = await hub.call('/api/v1/services/lights.fail', { method: 'POST', body: { code } })
      const status = expected[code] ?? 500
      expect({ code, status: res.status }).toEqual({ code, status })
      const body = await problem(res)
      if (HIDDEN_CODES.includes(code)) {
        // A failing handler's message stays in the log; the client gets the occurrence id.
        expect(body.detail).not.toContain('failing with')
        expect(body).toMatchObject({ code, status, instance: expect.stringMatching(/^urn:uuid:/) })
      } else {
        expect(body).toMatchObject({ code, status, detail: `failing with ${code}` })
      }
      expect(STATUS_BY_CODE[code] ?? 500).toBe(status)
    }
  })

  it('answers a call past the service deadline with 504 E_TIMEOUT', async () => {
    const hub = await startHub()
    const res = await hub.call('/api/v1/services/lights.slow', { method: 'POST' })
    expect(res.status).toBe(504)
    expect(await problem(res)).toMatchObject({ code: 'E_TIMEOUT' })
  })

  it('cancels the service call when the client goes away, with cancelOnDisconnect', async () => {
    const hub = await startHub({ cancelOnDisconnect: true })
    const before = waits.started
    const controller = new AbortController()
    const res = fetch(`${hub.url}/api/v1/services/lights.wait`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      signal: controller.signal,
    }).catch((e: unknown) => e)
    await until(() => waits.started >= before + 1)
    const reasons = waits.reasons.length
    controller.abort()
    await res
    await until(() => waits.reasons.length > reasons)
    expect(waits.reasons.at(-1)).toBe('E_CANCELLED')
  })

  it('lists the services a token may call', async () => {
    const hub = await startHub()
    const all = (await (await hub.call('/api/v1/services')).json()) as Array<{ name: string }>
    expect(all.map((s) => s.name)).toContain('lights.set')
    const { token } = await hub.http.tokens.create({
      name: 'set only',
      scopes: ['services.call:lights.set'],
    })
    const some = (await (await hub.call('/api/v1/services', { token })).json()) as Array<{
      name: string
    }>
    expect(some.map((s) => s.name)).toEqual(['lights.set'])
  })
})

describe('bad input', () => {
  it('refuses a malformed JSON body with 400', async () => {
    const hub = await startHub()
    const res = await hub.call('/api/v1/services/lights.echo', {
      method: 'POST',
      body: '{"room": "kitchen",',
    })
    expect(res.status).toBe(400)
    const body = await problem(res)
    expect(body).toMatchObject({ code: 'E_VALIDATION' })
    expect(body.detail).toContain('not valid JSON')
  })

  it('refuses __proto__ and constructor.prototype keys with 400', async () => {
    const hub = await startHub()
    for (const text of [
      '{"__proto__": {"admin": true}}',
      '{"a": {"constructor": {"prototype": {"admin": true}}}}',
    ]) {
      const res = await hub.call('/api/v1/services/lights.echo', { method: 'POST', body: text })
      expect(res.status).toBe(400)
      expect((await problem(res)).detail).toContain('__proto__')
    }
    expect(({} as Record<string, unknown>).admin).toBeUndefined()
  })

  it('refuses an empty body sent as application/json with 400', async () => {
    const hub = await startHub()
    const res = await hub.call('/api/v1/services/lights.echo', {
      method: 'POST',
      body: '',
      headers: { 'content-type': 'application/json' },
    })
    expect(res.status).toBe(400)
    expect((await problem(res)).code).toBe('E_VALIDATION')
  })

  it('refuses bodies of other media types with 415', async () => {
    const hub = await startHub()
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/xml']) {
      const res = await hub.call('/api/v1/services/lights.echo', {
        method: 'POST',
        body: 'room=kitchen',
        headers: { 'content-type': type },
      })
      expect({ type, status: res.status }).toEqual({ type, status: 415 })
      expect((await problem(res)).code).toBe('E_VALIDATION')
    }
  })

  it('refuses a body over the limit with 413', async () => {
    const hub = await startHub({ bodyLimitBytes: 1024 })
    const res = await hub.call('/api/v1/services/lights.echo', {
      method: 'POST',
      body: { text: 'x'.repeat(2048) },
    })
    expect(res.status).toBe(413)
    expect(await problem(res)).toMatchObject({ code: 'E_VALIDATION', status: 413 })
    const ok = await hub.call('/api/v1/services/lights.echo', {
      method: 'POST',
      body: { text: 'x'.repeat(512) },
    })
    expect(ok.status).toBe(200)
  })

  it('accepts up to 1 MiB by default and refuses more', async () => {
    const hub = await startHub()
    const big = await hub.call('/api/v1/services/lights.echo', {
      method: 'POST',
      body: { text: 'x'.repeat(1_048_576) },
    })
    expect(big.status).toBe(413)
    const fits = await hub.call('/api/v1/services/lights.echo', {
      method: 'POST',
      body: { text: 'x'.repeat(1_000_000) },
    })
    expect(fits.status).toBe(200)
  })

  it('answers an unknown route with 404 problem+json', async () => {
    const hub = await startHub()
    const res = await hub.call('/nothing/here')
    expect(res.status).toBe(404)
    expect(await problem(res)).toMatchObject({ code: 'E_NOT_FOUND', status: 404 })
  })

  it('refuses a body that fails a route schema with 400 and its paths', async () => {
    const hub = await startHub()
    const res = await hub.call('/api/v1/state/lights/kitchen', {
      method: 'PUT',
      body: { value: 1, ifRevision: -1, extra: true },
    })
    expect(res.status).toBe(400)
    const body = await problem(res)
    expect(body.code).toBe('E_VALIDATION')
    expect(Array.isArray(body.errors)).toBe(true)
  })
})

describe('auth', () => {
  it('refuses /api routes without a token with 401 and WWW-Authenticate: Bearer', async () => {
    const hub = await startHub()
    for (const [method, path] of [
      ['POST', '/api/v1/services/lights.set'],
      ['GET', '/api/v1/state/lights'],
      ['GET', '/api/v1/plugins'],
      ['GET', '/api/v1/tokens'],
      ['GET', '/api/v1/events'],
    ] as const) {
      const res = await hub.call(path, { method, token: null })
      expect({ path, status: res.status }).toEqual({ path, status: 401 })
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="core"')
      expect((await problem(res)).code).toBe('E_UNAUTHENTICATED')
    }
  })

  it('refuses a wrong or malformed token with 401 invalid_token', async () => {
    const hub = await startHub()
    const { token } = await hub.http.tokens.create({ name: 'x', scopes: ['admin'] })
    const wrong = `${token.slice(0, -4)}AAAA`
    for (const t of [wrong, 'nonsense', `core_${'0'.repeat(16)}_${'a'.repeat(43)}`]) {
      const res = await hub.call('/api/v1/services', { token: t })
      expect(res.status).toBe(401)
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="core", error="invalid_token"')
    }
    const basic = await hub.call('/api/v1/services', {
      token: null,
      headers: { authorization: 'Basic dXNlcjpwYXNz' },
    })
    expect(basic.status).toBe(401)
    expect((await problem(basic)).detail).toContain('Bearer')
  })

  it('lets a token call only the services its scopes cover, else 403', async () => {
    const hub = await startHub()
    const { token } = await hub.http.tokens.create({
      name: 'lights setter',
      scopes: ['services.call:lights.set'],
    })
    const ok = await hub.call('/api/v1/services/lights.set', {
      method: 'POST',
      token,
      body: { room: 'hall', on: false },
    })
    expect(ok.status).toBe(200)
    const denied = await hub.call('/api/v1/services/lights.echo', {
      method: 'POST',
      token,
      body: {},
    })
    expect(denied.status).toBe(403)
    expect(denied.headers.get('www-authenticate')).toContain('insufficient_scope')
    const body = await problem(denied)
    expect(body.code).toBe('E_FORBIDDEN')
    expect(body.detail).toContain('lights.echo')
    // A service that does not exist is also refused before the lookup: no probing.
    const unknown = await hub.call('/api/v1/services/other.x', { method: 'POST', token, body: {} })
    expect(unknown.status).toBe(403)
  })

  it('accepts wildcard scopes with AMQP semantics', async () => {
    const hub = await startHub()
    const { token } = await hub.http.tokens.create({
      name: 'all lights',
      scopes: ['services.call:lights.*'],
    })
    const res = await hub.call('/api/v1/services/lights.echo', { method: 'POST', token, body: 1 })
    expect(res.status).toBe(200)
  })

  it('keeps plugin and token routes to admin tokens', async () => {
    const hub = await startHub()
    const { token } = await hub.http.tokens.create({ name: 'caller', scopes: ['services.call:#'] })
    for (const [method, path] of [
      ['GET', '/api/v1/plugins'],
      ['POST', '/api/v1/plugins/lights/reload'],
      ['GET', '/api/v1/tokens'],
      ['DELETE', '/api/v1/tokens/0123456789abcdef'],
    ] as const) {
      const res = await hub.call(path, { method, token })
      expect({ path, status: res.status }).toEqual({ path, status: 403 })
    }
    const create = await hub.call('/api/v1/tokens', {
      method: 'POST',
      token,
      body: { name: 'x', scopes: ['admin'] },
    })
    expect(create.status).toBe(403)
  })

  it('refuses a token as soon as it is revoked', async () => {
    const hub = await startHub()
    const { id, token } = await hub.http.tokens.create({ name: 'short', scopes: ['admin'] })
    expect((await hub.call('/api/v1/services', { token })).status).toBe(200)
    const del = await hub.call(`/api/v1/tokens/${id}`, { method: 'DELETE' })
    expect(del.status).toBe(204)
    expect((await hub.call('/api/v1/services', { token })).status).toBe(401)
  })

  it('serves /health to anyone and /metrics and the docs to loopback clients by default', async () => {
    const hub = await startHub()
    for (const path of ['/health', '/metrics', '/openapi.json', '/docs']) {
      const res = await hub.call(path, { token: null })
      expect({ path, status: res.status }).toEqual({ path, status: 200 })
    }
  })

  it('protects /health, /metrics and the docs when told to', async () => {
    const hub = await startHub({
      publicRoutes: { health: false, metrics: false, docs: false },
      loopbackMeta: false,
    })
    for (const path of ['/health', '/metrics', '/openapi.json', '/docs']) {
      const res = await hub.call(path, { token: null })
      expect({ path, status: res.status }).toEqual({ path, status: 401 })
      expect((await hub.call(path)).status).toBe(200)
    }
  })

  it('serves every route without a token when auth is off on a loopback host', async () => {
    const hub = await startHub({ auth: false })
    const res = await hub.call('/api/v1/services/lights.echo', {
      method: 'POST',
      token: null,
      body: { a: 1 },
    })
    expect(res.status).toBe(200)
    expect((await hub.call('/api/v1/plugins', { token: null })).status).toBe(200)
  })

  it('refuses auth: false for a host that is not loopback, at creation and at listen', async () => {
    const kernel = createKernel({ logger: silentLogger })
    onCleanup(() => kernel.stop())
    for (const host of ['0.0.0.0', '::', '192.168.1.10', 'hub.example.com']) {
      let error: unknown
      try {
        createHttpServer(kernel, { auth: false, host })
      } catch (e) {
        error = e
      }
      expect(CoreError.is(error, 'E_VALIDATION')).toBe(true)
      expect((error as Error).message).toContain('loopback')
    }
    const http = createHttpServer(kernel, { auth: false, logger: silentLogger })
    onCleanup(() => http.close())
    const listened = http.listen({ host: '0.0.0.0', port: 0 })
    await expect(listened).rejects.toMatchObject({ code: 'E_VALIDATION' })
    const { url } = await http.listen({ host: '127.0.0.1', port: 0 })
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
  })

  it('refuses an adminToken shorter than 32 characters', () => {
    const kernel = createKernel({ logger: silentLogger })
    expect(() => createHttpServer(kernel, { adminToken: 'short' })).toThrow(/adminToken/)
  })
})

describe('tokens over HTTP', () => {
  it('creates, lists and revokes tokens; the text is shown once and never listed', async () => {
    const hub = await startHub()
    const created = await hub.call('/api/v1/tokens', {
      method: 'POST',
      body: { name: 'cli', scopes: ['services.call:lights.#', 'state.read:#'] },
    })
    expect(created.status).toBe(201)
    const token = (await created.json()) as { id: string; token: string; scopes: string[] }
    expect(token.token).toMatch(/^core_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/)
    expect(token.scopes).toEqual(['services.call:lights.#', 'state.read:#'])

    const list = (await (await hub.call('/api/v1/tokens')).json()) as Array<Record<string, unknown>>
    expect(list).toHaveLength(1)
    expect(list[0]).toMatchObject({ id: token.id, name: 'cli' })
    expect(JSON.stringify(list)).not.toContain(token.token.slice(22))
    expect(list[0]).not.toHaveProperty('hash')

    const used = await hub.call('/api/v1/services/lights.echo', {
      method: 'POST',
      token: token.token,
      body: 1,
    })
    expect(used.status).toBe(200)
    const after = (await (await hub.call('/api/v1/tokens')).json()) as Array<{
      lastUsedAt?: number
    }>
    expect(typeof after[0]?.lastUsedAt).toBe('number')

    expect((await hub.call(`/api/v1/tokens/${token.id}`, { method: 'DELETE' })).status).toBe(204)
    const again = await hub.call(`/api/v1/tokens/${token.id}`, { method: 'DELETE' })
    expect(again.status).toBe(404)
    expect((await problem(again)).code).toBe('E_NOT_FOUND')
  })

  it('refuses unknown scopes with 400', async () => {
    const hub = await startHub()
    for (const scopes of [['root'], ['services.call:'], ['storage.write:#'], []]) {
      const res = await hub.call('/api/v1/tokens', { method: 'POST', body: { name: 'x', scopes } })
      expect(res.status).toBe(400)
      expect((await problem(res)).code).toBe('E_VALIDATION')
    }
  })
})

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
    await until(() => seen.length === 1)
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

describe('server lifecycle', () => {
  it('closes idempotently and removes its metrics middleware', async () => {
    const hub = await startHub()
    await hub.http.close()
    await hub.http.close()
    await expect(fetch(`${hub.url}/health`)).rejects.toThrow()
    // The registry still answers calls with the middleware gone.
    await expect(hub.kernel.services.call('lights.echo', 1)).resolves.toBe(1)
  })

  it('refuses to listen on a port in use with E_UNAVAILABLE', async () => {
    const hub = await startHub()
    const port = Number(new URL(hub.url).port)
    const other = createHttpServer(hub.kernel, { logger: silentLogger })
    onCleanup(() => other.close())
    await expect(other.listen({ host: '127.0.0.1', port })).rejects.toMatchObject({
      code: 'E_UNAVAILABLE',
    })
  })

  it('uses the problem content type for every error', async () => {
    const hub = await startHub()
    const res = await hub.call('/api/v1/services/lights.fail', {
      method: 'POST',
      body: { code: 'E_CONFLICT' },
    })
    expect(res.headers.get('content-type')).toContain(PROBLEM)
  })
})
