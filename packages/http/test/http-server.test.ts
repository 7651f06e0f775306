import { CORE_ERROR_CODES, silentLogger } from '@core/contracts'
import { describe, expect, it } from 'vitest'
import { createHttpServer, HIDDEN_CODES, STATUS_BY_CODE } from '../src/index.js'
import { ADMIN_TOKEN, onCleanup, startHub, waits } from './helpers.js'
import { PROBLEM, problem } from './http-server-helpers.js'

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
    await expect.poll(() => waits.started, { timeout: 3_000 }).toBeGreaterThanOrEqual(before + 1)
    const reasons = waits.reasons.length
    controller.abort()
    await res
    await expect.poll(() => waits.reasons.length, { timeout: 3_000 }).toBeGreaterThan(reasons)
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
