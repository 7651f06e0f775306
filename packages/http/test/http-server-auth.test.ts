import { CoreError, silentLogger } from '@core/contracts'
import { createKernel } from '@core/kernel'
import { describe, expect, it } from 'vitest'
import { createHttpServer } from '../src/index.js'
import { onCleanup, startHub } from './helpers.js'
import { problem } from './http-server-helpers.js'

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
