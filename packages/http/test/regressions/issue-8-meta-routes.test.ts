import { describe, expect, it } from 'vitest'
import { startHub } from '../helpers.js'

const REMOTE = '192.0.2.10' // TEST-NET-1: a client that is not on this machine

describe('issue 8: /metrics and the API documents need a token unless configured public', () => {
  it('refuses a remote client without a token by default, and lets loopback clients in', async () => {
    const hub = await startHub()
    for (const url of ['/metrics', '/openapi.json', '/docs']) {
      const remote = await hub.http.app.inject({ method: 'GET', url, remoteAddress: REMOTE })
      expect({ url, status: remote.statusCode }).toEqual({ url, status: 401 })
      const local = await hub.http.app.inject({ method: 'GET', url, remoteAddress: '127.0.0.1' })
      expect({ url, status: local.statusCode }).toEqual({ url, status: 200 })
    }
    const health = await hub.http.app.inject({
      method: 'GET',
      url: '/health',
      remoteAddress: REMOTE,
    })
    expect(health.statusCode).toBe(200)
  })

  it('needs metrics:read for /metrics and docs:read for the documents (403 otherwise)', async () => {
    const hub = await startHub()
    const tokenOf = async (scopes: string[]): Promise<string> =>
      (await hub.http.tokens.create({ name: scopes.join(' '), scopes })).token
    const metrics = await tokenOf(['metrics:read'])
    const docs = await tokenOf(['docs:read'])
    const get = async (url: string, token: string): Promise<number> =>
      (
        await hub.http.app.inject({
          method: 'GET',
          url,
          remoteAddress: REMOTE,
          headers: { authorization: `Bearer ${token}` },
        })
      ).statusCode
    expect(await get('/metrics', metrics)).toBe(200)
    expect(await get('/openapi.json', metrics)).toBe(403)
    expect(await get('/openapi.json', docs)).toBe(200)
    expect(await get('/docs', docs)).toBe(200)
    expect(await get('/metrics', docs)).toBe(403)
  })

  it('serves them to anyone when publicRoutes says so, and to nobody local without a token when loopbackMeta is off', async () => {
    const open = await startHub({ publicRoutes: { metrics: true, docs: true } })
    const remote = await open.http.app.inject({
      method: 'GET',
      url: '/metrics',
      remoteAddress: REMOTE,
    })
    expect(remote.statusCode).toBe(200)
    const strict = await startHub({ loopbackMeta: false })
    const local = await strict.http.app.inject({
      method: 'GET',
      url: '/openapi.json',
      remoteAddress: '127.0.0.1',
    })
    expect(local.statusCode).toBe(401)
  })
})
