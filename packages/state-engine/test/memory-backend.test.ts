import type { StateChange } from '@core/contracts'
import { describe, expect, it } from 'vitest'
import { createMemoryStateBackend, type StateBackend } from '../src/index.js'

/**
 * The StateBackend contract (see its TSDoc), as tests any backend can run. A Redis backend
 * would call this with its own factory.
 */
function backendContract(name: string, make: () => StateBackend): void {
  const now = 1_000

  describe(`${name} backend contract`, () => {
    it('assigns revisions from one store-wide counter, starting at 1', async () => {
      const b = make()
      const r1 = await b.set('a', 'k', 1, { now })
      const r2 = await b.set('b', 'k', 1, { now })
      const r3 = await b.set('a', 'k', 2, { now })
      expect([r1.entry?.revision, r2.entry?.revision, r3.entry?.revision]).toEqual([1, 2, 3])
    })

    it('gives a delete its own revision and never reuses one after re-create', async () => {
      const b = make()
      const set = await b.set('a', 'k', 1, { now })
      const del = await b.delete('a', 'k', { now })
      const again = await b.set('a', 'k', 1, { now })
      expect(del.changes).toEqual([
        { namespace: 'a', key: 'k', previous: 1, revision: 2, reason: 'delete' },
      ])
      expect(again.entry?.revision).toBe(3)
      expect(again.changes[0]).not.toHaveProperty('previous')
      expect(set.entry?.revision).toBe(1)
    })

    it('reports the set change with the previous value it replaced', async () => {
      const b = make()
      await b.set('a', 'k', 'x', { now })
      const result = await b.set('a', 'k', 'y', { now: now + 5, expiresAt: now + 100 })
      expect(result).toEqual({
        ok: true,
        actual: 1,
        entry: { value: 'y', revision: 2, updatedAt: now + 5, expiresAt: now + 100 },
        changes: [
          { namespace: 'a', key: 'k', value: 'y', previous: 'x', revision: 2, reason: 'set' },
        ],
      })
    })

    it('compares and sets: a mismatch writes nothing and reports the live revision', async () => {
      const b = make()
      await b.set('a', 'k', 1, { now })
      expect(await b.set('a', 'k', 2, { now, ifRevision: 7 })).toEqual({
        ok: false,
        actual: 1,
        changes: [],
      })
      expect(await b.set('a', 'new', 2, { now, ifRevision: 3 })).toEqual({
        ok: false,
        actual: 0,
        changes: [],
      })
      expect((await b.get('a', 'k'))?.value).toBe(1)
      expect(await b.get('a', 'new')).toBeUndefined()
      expect((await b.set('a', 'k', 2, { now, ifRevision: 1 })).ok).toBe(true)
      expect((await b.set('a', 'other', 2, { now, ifRevision: 0 })).ok).toBe(true)
    })

    it('compares and deletes', async () => {
      const b = make()
      await b.set('a', 'k', 1, { now })
      expect(await b.delete('a', 'k', { now, ifRevision: 9 })).toEqual({
        ok: false,
        actual: 1,
        changes: [],
      })
      expect((await b.delete('a', 'k', { now, ifRevision: 1 })).changes).toHaveLength(1)
      expect(await b.delete('a', 'k', { now })).toEqual({ ok: true, actual: 0, changes: [] })
    })

    it('keeps an expired entry until expire removes it, with an expired change', async () => {
      const b = make()
      await b.set('a', 'k', 'v', { now, expiresAt: now + 10 })
      expect((await b.get('a', 'k'))?.value).toBe('v')
      expect((await b.expire('a', 'k', 1, now + 5)).changes).toEqual([])
      const result = await b.expire('a', 'k', 1, now + 10)
      expect(result.changes).toEqual([
        { namespace: 'a', key: 'k', previous: 'v', revision: 2, reason: 'expired' },
      ])
      expect(await b.get('a', 'k')).toBeUndefined()
      expect((await b.expire('a', 'k', 1, now + 10)).changes).toEqual([])
    })

    it('does not expire an entry written again since (a stale revision)', async () => {
      const b = make()
      await b.set('a', 'k', 'old', { now, expiresAt: now + 10 })
      await b.set('a', 'k', 'new', { now, expiresAt: now + 10 })
      expect((await b.expire('a', 'k', 1, now + 10)).changes).toEqual([])
      expect((await b.get('a', 'k'))?.value).toBe('new')
    })

    it('sweeps an expired entry met by a write, reporting expired then the write, in revision order', async () => {
      const b = make()
      await b.set('a', 'k', 'old', { now, expiresAt: now + 10 })
      const result = await b.set('a', 'k', 'new', { now: now + 10, ifRevision: 0 })
      expect(result.actual).toBe(0)
      expect(result.changes.map((c: StateChange) => [c.reason, c.revision])).toEqual([
        ['expired', 2],
        ['set', 3],
      ])
    })

    it('treats an expired entry as absent for a delete, reporting only its expiry', async () => {
      const b = make()
      await b.set('a', 'k', 'v', { now, expiresAt: now + 10 })
      const result = await b.delete('a', 'k', { now: now + 10 })
      expect(result.actual).toBe(0)
      expect(result.changes.map((c) => c.reason)).toEqual(['expired'])
    })

    it('lists a namespace, whole or by word prefix', async () => {
      const b = make()
      for (const key of ['x', 'x.y', 'xy', 'z']) await b.set('a', key, key, { now })
      await b.set('b', 'x', 0, { now })
      const keys = async (prefix?: string) => (await b.list('a', prefix)).map((i) => i.key).sort()
      expect(await keys()).toEqual(['x', 'x.y', 'xy', 'z'])
      expect(await keys('x')).toEqual(['x', 'x.y'])
      expect(await b.list('nobody')).toEqual([])
    })
  })
}

backendContract('memory', createMemoryStateBackend)

describe('createMemoryStateBackend', () => {
  it('hands out frozen entries and changes', async () => {
    const b = createMemoryStateBackend()
    const result = await b.set('a', 'k', 1, { now: 0 })
    expect(Object.isFrozen(result.entry)).toBe(true)
    expect(Object.isFrozen(result.changes[0])).toBe(true)
    expect(Object.isFrozen(await b.get('a', 'k'))).toBe(true)
  })

  it('starts every backend at revision 1 (the counter is per store)', async () => {
    const one = createMemoryStateBackend()
    await one.set('a', 'k', 1, { now: 0 })
    const two = createMemoryStateBackend()
    expect((await two.set('a', 'k', 1, { now: 0 })).entry?.revision).toBe(1)
  })
})
