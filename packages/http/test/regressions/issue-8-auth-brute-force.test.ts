import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { TOKEN_CREATED_EVENT, TOKEN_REVOKED_EVENT } from '../../src/index.js'
import { startHub } from '../helpers.js'

const wrongToken = (): string =>
  `core_${randomBytes(8).toString('hex')}_${randomBytes(32).toString('base64url')}`

describe('issue 8: repeated failed authentications get 429, valid tokens are never slowed', () => {
  it('answers 2,000 wrong bearer tokens from one address with 429 past the threshold while a valid token keeps working', {
    timeout: 120_000,
  }, async () => {
    const hub = await startHub()
    const { token: valid } = await hub.http.tokens.create({
      name: 'panel',
      scopes: ['services.call:lights.#'],
    })
    const statuses = new Map<number, number>()
    let first429 = -1
    let retryAfter: string | null = null
    for (let i = 0; i < 2_000; i++) {
      const res = await hub.call('/api/v1/services', { token: wrongToken() })
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1)
      if (res.status === 429 && first429 < 0) {
        first429 = i
        retryAfter = res.headers.get('retry-after')
        expect(await res.json()).toMatchObject({ status: 429, code: 'E_UNAVAILABLE' })
      } else {
        await res.arrayBuffer()
      }
      if (i % 100 === 99) {
        const ok = await hub.call('/api/v1/services', { token: valid })
        expect({ i, status: ok.status }).toEqual({ i, status: 200 })
        await ok.arrayBuffer()
      }
    }
    // The default threshold: 20 failures per minute and address.
    expect(first429).toBe(20)
    expect(statuses.get(401)).toBe(20)
    expect(statuses.get(429)).toBe(1_980)
    expect(Number(retryAfter)).toBeGreaterThan(0)
    expect(Number(retryAfter)).toBeLessThanOrEqual(60)
    // Still working after the flood, and still a 403 (not 401, not 429) where scopes fall short.
    expect((await hub.call('/api/v1/services', { token: valid })).status).toBe(200)
    const narrow = await hub.call('/api/v1/services/other.thing', {
      method: 'POST',
      body: {},
      token: valid,
    })
    expect(narrow.status).toBe(403)
  })

  it('counts missing tokens as failures and keeps 401 and 403 apart below the threshold', async () => {
    const hub = await startHub({ authFailures: { max: 3, windowMs: 60_000 } })
    const { token } = await hub.http.tokens.create({ name: 'p', scopes: ['state.read:x.#'] })
    expect((await hub.call('/api/v1/services/lights.set', { method: 'POST', token })).status).toBe(
      403,
    )
    const codes: number[] = []
    for (let i = 0; i < 5; i++)
      codes.push((await hub.call('/api/v1/plugins', { token: null })).status)
    expect(codes).toEqual([401, 401, 401, 429, 429])
    // 403s never count: a valid token with too narrow scopes is not an authentication failure.
    for (let i = 0; i < 5; i++) {
      expect((await hub.call('/api/v1/plugins', { token })).status).toBe(403)
    }
  })

  it('publishes token creation and revocation as core.auth events, never the secret', async () => {
    const hub = await startHub()
    const events: Array<{ type: string; data: unknown }> = []
    hub.kernel.bus.subscribe('core.auth.#', (event) => {
      events.push({ type: event.type, data: event.data })
    })
    const res = await hub.call('/api/v1/tokens', {
      method: 'POST',
      body: { name: 'ci', scopes: ['services.call:lights.#'] },
    })
    expect(res.status).toBe(201)
    const created = (await res.json()) as { id: string; token: string }
    expect((await hub.call(`/api/v1/tokens/${created.id}`, { method: 'DELETE' })).status).toBe(204)
    await expect
      .poll(() => events.map((e) => e.type))
      .toEqual([TOKEN_CREATED_EVENT, TOKEN_REVOKED_EVENT])
    expect(events[0]?.data).toEqual({
      id: created.id,
      name: 'ci',
      scopes: ['services.call:lights.#'],
      by: 'admin-token',
    })
    expect(events[1]?.data).toEqual({ id: created.id, by: 'admin-token' })
    expect(JSON.stringify(events)).not.toContain(created.token.slice(22))
  })
})
