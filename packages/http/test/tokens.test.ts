import { createHash } from 'node:crypto'
import { CoreError } from '@core/contracts'
import { createFakeClock } from '@core/contracts/testing'
import { createMemoryAdapter, createStorage } from '@core/storage'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createTokenStore, DEFAULT_TOKEN_NAMESPACE, parseScopes } from '../src/index.js'

async function rejection(promise: Promise<unknown>): Promise<CoreError> {
  try {
    await promise
  } catch (error) {
    if (CoreError.is(error)) return error
    throw error
  }
  throw new Error('expected a rejection')
}

describe('createTokenStore', () => {
  it('creates a random token and stores only its SHA-256 hash', async () => {
    const storage = createStorage(createMemoryAdapter())
    const tokens = createTokenStore(storage)
    const a = await tokens.create({ name: 'cli', scopes: ['admin'] })
    const b = await tokens.create({ name: 'cli', scopes: ['admin'] })
    expect(a.token).toMatch(/^core_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/)
    expect(a.token).not.toBe(b.token)
    expect(a.token).toContain(a.id)
    const stored = (await storage.get(DEFAULT_TOKEN_NAMESPACE, `token.${a.id}`)) as Record<
      string,
      unknown
    >
    expect(stored.hash).toBe(createHash('sha256').update(a.token).digest('hex'))
    expect(JSON.stringify(stored)).not.toContain(a.token.slice(22))
  })

  it('verifies a token into a principal with manifest-style permissions', async () => {
    const tokens = createTokenStore(createStorage(createMemoryAdapter()))
    const { id, token } = await tokens.create({
      name: 'kitchen panel',
      scopes: ['services.call:lights.*', 'state.read:lights.#'],
    })
    expect(await tokens.verify(token)).toEqual({
      id,
      name: 'kitchen panel',
      admin: false,
      permissions: { services: { call: ['lights.*'] }, state: { read: ['lights.#'] } },
      readMetrics: false,
      readDocs: false,
    })
  })

  it('refuses malformed, unknown and tampered tokens with E_UNAUTHENTICATED', async () => {
    const tokens = createTokenStore(createStorage(createMemoryAdapter()))
    const { token } = await tokens.create({ name: 'x', scopes: ['admin'] })
    const last = token.at(-1) === 'A' ? 'B' : 'A'
    for (const bad of [
      '',
      'core_',
      token.slice(1),
      `${token.slice(0, -1)}${last}`,
      `core_${'f'.repeat(16)}_${'a'.repeat(43)}`,
    ]) {
      expect((await rejection(tokens.verify(bad))).code).toBe('E_UNAUTHENTICATED')
    }
  })

  it('lists tokens oldest first without their text or hash', async () => {
    const clock = createFakeClock({ now: 1_000_000 })
    const tokens = createTokenStore(createStorage(createMemoryAdapter()), { clock })
    const first = await tokens.create({ name: 'one', scopes: ['admin'] })
    clock.jump(10)
    const second = await tokens.create({ name: 'two', scopes: ['state.read:#'] })
    const list = await tokens.list()
    expect(list).toEqual([
      { id: first.id, name: 'one', scopes: ['admin'], createdAt: 1_000_000 },
      { id: second.id, name: 'two', scopes: ['state.read:#'], createdAt: 1_000_010 },
    ])
  })

  it('revokes a token at once and refuses an unknown id with E_NOT_FOUND', async () => {
    const tokens = createTokenStore(createStorage(createMemoryAdapter()))
    const { id, token } = await tokens.create({ name: 'x', scopes: ['admin'] })
    await tokens.verify(token)
    await tokens.revoke(id)
    expect((await rejection(tokens.verify(token))).code).toBe('E_UNAUTHENTICATED')
    expect((await rejection(tokens.revoke(id))).code).toBe('E_NOT_FOUND')
    expect((await rejection(tokens.revoke('../etc'))).code).toBe('E_NOT_FOUND')
    expect(await tokens.list()).toEqual([])
  })

  it('sees a revoke by another store on the same storage once its cache expires', async () => {
    const clock = createFakeClock({ now: 1_000_000 })
    const storage = createStorage(createMemoryAdapter())
    const a = createTokenStore(storage, { clock, cacheTtlMs: 1_000 })
    const b = createTokenStore(storage, { clock, cacheTtlMs: 1_000 })
    const { id, token } = await a.create({ name: 'x', scopes: ['admin'] })
    await a.verify(token)
    await b.revoke(id)
    await expect(a.verify(token)).resolves.toMatchObject({ id }) // cached
    clock.jump(1_000)
    expect((await rejection(a.verify(token))).code).toBe('E_UNAUTHENTICATED')
  })

  it('records lastUsedAt at most once per touch interval', async () => {
    const clock = createFakeClock({ now: 1_000_000 })
    const storage = createStorage(createMemoryAdapter())
    const tokens = createTokenStore(storage, { clock, touchIntervalMs: 60_000 })
    const { id, token } = await tokens.create({ name: 'x', scopes: ['admin'] })
    const stored = async () =>
      ((await storage.get(DEFAULT_TOKEN_NAMESPACE, `token.${id}`)) as { lastUsedAt?: number })
        .lastUsedAt
    clock.jump(5)
    await tokens.verify(token)
    await new Promise((r) => setTimeout(r, 10))
    expect(await stored()).toBe(1_000_005)
    clock.jump(5)
    await tokens.verify(token)
    await new Promise((r) => setTimeout(r, 10))
    expect(await stored()).toBe(1_000_005)
    expect((await tokens.list())[0]?.lastUsedAt).toBe(1_000_005)
    clock.jump(60_000)
    await tokens.verify(token)
    await new Promise((r) => setTimeout(r, 10))
    expect(await stored()).toBe(1_060_010)
  })

  it('does not bring a revoked token back when recording its use', async () => {
    const clock = createFakeClock({ now: 1_000_000 })
    const storage = createStorage(createMemoryAdapter())
    const tokens = createTokenStore(storage, { clock, touchIntervalMs: 1 })
    const { id, token } = await tokens.create({ name: 'x', scopes: ['admin'] })
    clock.jump(10)
    const verified = tokens.verify(token)
    await tokens.revoke(id).catch(() => undefined)
    await verified.catch(() => undefined)
    await new Promise((r) => setTimeout(r, 10))
    expect(await storage.has(DEFAULT_TOKEN_NAMESPACE, `token.${id}`)).toBe(false)
  })

  it('refuses bad names and scopes with E_VALIDATION', async () => {
    const tokens = createTokenStore(createStorage(createMemoryAdapter()))
    for (const input of [
      { name: '', scopes: ['admin'] },
      { name: 'x'.repeat(65), scopes: ['admin'] },
      { name: 'a\nb', scopes: ['admin'] },
      { name: 'ok', scopes: [] },
      { name: 'ok', scopes: ['superuser'] },
      { name: 'ok', scopes: ['services.call:lights..x'] },
      { name: 'ok', scopes: ['services.register:#'] },
    ]) {
      expect((await rejection(tokens.create(input))).code).toBe('E_VALIDATION')
    }
  })

  it('refuses bad intervals with E_VALIDATION', () => {
    const storage = createStorage(createMemoryAdapter())
    expect(() => createTokenStore(storage, { cacheTtlMs: 0 })).toThrow(/cacheTtlMs/)
    expect(() => createTokenStore(storage, { touchIntervalMs: 1.5 })).toThrow(/touchIntervalMs/)
  })
})

describe('parseScopes', () => {
  it('maps scopes onto the plugin manifest permission fields', () => {
    expect(
      parseScopes([
        'admin',
        'services.call:lights.#',
        'services.call:doors.*',
        'events.publish:lights.#',
        'events.subscribe:#',
        'state.read:lights.#',
        'state.write:lights.kitchen',
        'metrics:read',
      ]),
    ).toEqual({
      admin: true,
      permissions: {
        services: { call: ['lights.#', 'doors.*'] },
        events: { publish: ['lights.#'], subscribe: ['#'] },
        state: { read: ['lights.#'], write: ['lights.kitchen'] },
      },
      readMetrics: true,
      readDocs: false,
    })
    expect(parseScopes(['docs:read'])).toMatchObject({ readMetrics: false, readDocs: true })
  })

  it('accepts every well-formed pattern and refuses kinds it does not know', () => {
    const word = fc.stringMatching(/^(?:[A-Za-z0-9_%-]{1,8}|\*|#)$/)
    fc.assert(
      fc.property(fc.array(word, { minLength: 1, maxLength: 6 }), (words) => {
        const pattern = words.join('.')
        expect(parseScopes([`services.call:${pattern}`]).permissions).toEqual({
          services: { call: [pattern] },
        })
        expect(() => parseScopes([`storage.read:${pattern}`])).toThrow(/Invalid scope/)
      }),
    )
  })
})
