import { CoreError } from '@core/contracts'
import { describe, expect, it } from 'vitest'
import { flush, harness } from './helpers/setup.js'

describe('TTL', () => {
  it('sets expiresAt to updatedAt + ttlMs', async () => {
    const { state, clock } = harness()
    const entry = await state.set('t', 'k', 1, { ttlMs: 1500 })
    expect(entry).toEqual({
      value: 1,
      revision: 1,
      updatedAt: clock.now(),
      expiresAt: clock.now() + 1500,
    })
    expect(await state.get('t', 'k')).toEqual(entry)
  })

  it('removes the key at its deadline and publishes an expired change with the previous value', async () => {
    const { state, clock, changes } = harness()
    const entry = await state.set('t', 'k', { on: true }, { ttlMs: 1000 })
    clock.tick(999)
    await flush()
    expect(await state.has('t', 'k')).toBe(true)
    clock.tick(1)
    await flush()
    expect(await state.get('t', 'k')).toBeUndefined()
    expect(changes.at(-1)).toEqual({
      namespace: 't',
      key: 'k',
      previous: { on: true },
      revision: expect.any(Number),
      reason: 'expired',
      updatedAt: clock.now(),
    })
    expect(changes.at(-1)?.revision).toBeGreaterThan(entry.revision)
  })

  it('never returns an expired entry from get, has or list, even before the timer fires', async () => {
    const { state, clock, changes } = harness()
    await state.set('t', 'k', 1, { ttlMs: 1000 })
    await state.set('t', 'stays', 2)
    clock.jump(1000)
    expect(await state.get('t', 'k')).toBeUndefined()
    expect(await state.has('t', 'k')).toBe(false)
    expect((await state.list('t')).map((i) => i.key)).toEqual(['stays'])
    await flush()
    expect(changes.map((c) => c.reason)).toEqual(['set', 'set'])
  })

  it('uses one timer for all keys, armed for the earliest deadline', async () => {
    const { state, clock } = harness()
    for (let i = 0; i < 500; i++) await state.set('t', `k${i}`, i, { ttlMs: 10_000 + i })
    expect(clock.pending()).toBe(1)
    await state.set('t', 'soon', 0, { ttlMs: 50 })
    expect(clock.pending()).toBe(1)
    expect(clock.delays.at(-1)).toBe(50)
    clock.tick(50)
    await flush()
    expect(await state.has('t', 'soon')).toBe(false)
    expect(await state.has('t', 'k0')).toBe(true)
    expect(clock.pending()).toBe(1)
  })

  it('expires keys in deadline order', async () => {
    const { state, clock, changes } = harness()
    await state.set('t', 'c', 3, { ttlMs: 300 })
    await state.set('t', 'a', 1, { ttlMs: 100 })
    await state.set('t', 'b', 2, { ttlMs: 200 })
    clock.tick(1000)
    await flush()
    expect(changes.filter((c) => c.reason === 'expired').map((c) => c.key)).toEqual(['a', 'b', 'c'])
    expect(clock.pending()).toBe(0)
  })

  it('expires several keys due at the same moment in one firing', async () => {
    const { state, clock, changes } = harness()
    for (const key of ['a', 'b', 'c']) await state.set('t', key, key, { ttlMs: 100 })
    clock.tick(100)
    await flush()
    expect(changes.filter((c) => c.reason === 'expired')).toHaveLength(3)
  })

  it('follows the latest write: a new TTL replaces the old deadline', async () => {
    const { state, clock, changes } = harness()
    await state.set('t', 'k', 1, { ttlMs: 100 })
    clock.tick(50)
    await state.set('t', 'k', 2, { ttlMs: 100 })
    clock.tick(60)
    await flush()
    expect((await state.get('t', 'k'))?.value).toBe(2)
    clock.tick(40)
    await flush()
    expect(await state.has('t', 'k')).toBe(false)
    expect(changes.filter((c) => c.reason === 'expired')).toHaveLength(1)
  })

  it('drops the TTL when a key is written again without one', async () => {
    const { state, clock, changes } = harness()
    await state.set('t', 'k', 1, { ttlMs: 100 })
    const entry = await state.set('t', 'k', 2)
    expect(entry.expiresAt).toBeUndefined()
    clock.tick(10_000)
    await flush()
    expect((await state.get('t', 'k'))?.value).toBe(2)
    expect(changes.some((c) => c.reason === 'expired')).toBe(false)
  })

  it('publishes no expiry for a key deleted before its deadline', async () => {
    const { state, clock, changes } = harness()
    await state.set('t', 'k', 1, { ttlMs: 100 })
    await state.delete('t', 'k')
    clock.tick(200)
    await flush()
    expect(changes.map((c) => c.reason)).toEqual(['set', 'delete'])
  })

  it('publishes the expiry first when a write meets an expired entry before the timer fired', async () => {
    const { state, clock, changes } = harness()
    const old = await state.set('t', 'k', 'old', { ttlMs: 100 })
    clock.jump(100)
    const entry = await state.set('t', 'k', 'new')
    await flush()
    expect(changes.map((c) => [c.reason, c.previous, c.value])).toEqual([
      ['set', undefined, 'old'],
      ['expired', 'old', undefined],
      ['set', undefined, 'new'],
    ])
    const [, expired, set] = changes
    expect(expired?.revision).toBeGreaterThan(old.revision)
    expect(set?.revision).toBe(entry.revision)
    expect(entry.revision).toBeGreaterThan(expired?.revision ?? Number.POSITIVE_INFINITY)
    clock.tick(1000)
    await flush()
    expect(changes).toHaveLength(3)
  })

  it('treats an expired entry as absent for ifRevision', async () => {
    const { state, clock } = harness()
    const old = await state.set('t', 'k', 1, { ttlMs: 100 })
    clock.jump(100)
    const error = await state
      .set('t', 'k', 2, { ifRevision: old.revision })
      .catch((e: unknown) => e)
    expect(CoreError.is(error, 'E_CONFLICT')).toBe(true)
    expect((await state.set('t', 'k', 2, { ifRevision: 0 })).value).toBe(2)
  })

  it('reports a delete of an expired entry as false, with its expiry published', async () => {
    const { state, clock, changes } = harness()
    await state.set('t', 'k', 1, { ttlMs: 100 })
    clock.jump(150)
    expect(await state.delete('t', 'k')).toBe(false)
    await flush()
    expect(changes.map((c) => c.reason)).toEqual(['set', 'expired'])
  })

  it('reaches deadlines beyond the longest timer delay in steps, without expiring early', async () => {
    const { state, clock, changes } = harness()
    const ttlMs = 40 * 24 * 3600 * 1000
    await state.set('t', 'k', 1, { ttlMs })
    expect(Math.max(...clock.delays)).toBeLessThanOrEqual(2_147_483_647)
    clock.tick(2_147_483_647)
    await flush()
    expect(await state.has('t', 'k')).toBe(true)
    clock.tick(ttlMs - 2_147_483_647)
    await flush()
    expect(await state.has('t', 'k')).toBe(false)
    expect(changes.at(-1)?.reason).toBe('expired')
  })

  it.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '100', null])(
    'refuses ttlMs %s with E_VALIDATION',
    async (ttlMs) => {
      const { state } = harness()
      const error = await state.set('t', 'k', 1, { ttlMs: ttlMs as never }).catch((e: unknown) => e)
      expect(CoreError.is(error, 'E_VALIDATION')).toBe(true)
      expect(await state.has('t', 'k')).toBe(false)
    },
  )
})
