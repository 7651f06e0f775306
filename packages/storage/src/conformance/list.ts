import { beforeEach, describe, expect, it } from 'vitest'
import { compareKeys } from '../adapter.js'
import type { Storage } from '../types.js'
import { type ConformanceHarness, expectCode } from './harness.js'

/** The conformance tests of list: key order, prefixes and cursors. @internal */
export function listSuite(h: ConformanceHarness): void {
  describe('list and cursors', () => {
    let storage: Storage
    beforeEach(() => {
      storage = h.storage
    })

    it('lists keys in Unicode code point order', async () => {
      const keys = ['b', 'a', 'B', 'é', 'a.b', 'a-b', 'a_b', '\u{1F600}', '\uFFFD', '10', '9', 'Z']
      for (const key of keys) await storage.set('app', key, key)
      const page = await storage.list('app')
      expect(page.items.map((e) => e.key)).toEqual([...keys].sort(compareKeys))
      expect(page.items.every((e) => e.value === e.key)).toBe(true)
      expect(page.cursor).toBeUndefined()
    })

    it('pages through every key exactly once with an opaque cursor', async () => {
      const keys = Array.from({ length: 25 }, (_, i) => `k${String(i).padStart(2, '0')}`)
      await storage.batch(
        'app',
        keys.map((key) => ({ op: 'set' as const, key, value: { key } })),
      )
      const seen: string[] = []
      let cursor: string | undefined
      let pages = 0
      do {
        const page = await storage.list(
          'app',
          cursor === undefined ? { limit: 10 } : { limit: 10, cursor },
        )
        expect(typeof (page.cursor ?? '')).toBe('string')
        seen.push(...page.items.map((e) => e.key))
        cursor = page.cursor
        pages++
      } while (cursor !== undefined)
      expect(seen).toEqual(keys)
      expect(pages).toBe(3)
    })

    it('ends with no cursor when the last page is exactly full', async () => {
      for (const key of ['a', 'b', 'c', 'd']) await storage.set('app', key, 1)
      const first = await storage.list('app', { limit: 2 })
      expect(first.cursor).toBeDefined()
      const second = await storage.list('app', { limit: 2, cursor: first.cursor! })
      expect(second.items.map((e) => e.key)).toEqual(['c', 'd'])
      expect(second.cursor).toBeUndefined()
    })

    it('lists only keys with the prefix', async () => {
      for (const key of ['room.a', 'room.b', 'room2', 'roo', 'other'])
        await storage.set('app', key, 1)
      const page = await storage.list('app', { prefix: 'room.' })
      expect(page.items.map((e) => e.key)).toEqual(['room.a', 'room.b'])
      const paged = await storage.list('app', { prefix: 'room', limit: 1 })
      expect(paged.items.map((e) => e.key)).toEqual(['room.a'])
      const rest = await storage.list('app', { prefix: 'room', cursor: paged.cursor! })
      expect(rest.items.map((e) => e.key)).toEqual(['room.b', 'room2'])
    })

    it('stays stable when keys are inserted and deleted between pages', async () => {
      const initial = Array.from({ length: 20 }, (_, i) => `k${String(i * 10).padStart(3, '0')}`)
      await storage.batch(
        'app',
        initial.map((key) => ({ op: 'set' as const, key, value: 0 })),
      )
      const seen: string[] = []
      let cursor: string | undefined
      let round = 0
      do {
        const page = await storage.list(
          'app',
          cursor === undefined ? { limit: 4 } : { limit: 4, cursor },
        )
        seen.push(...page.items.map((e) => e.key))
        cursor = page.cursor
        // Insert before and after the cursor, and delete a key already seen.
        await storage.set('app', `k${String(round * 10 + 5).padStart(3, '0')}`, 1)
        await storage.set('app', `k${String(195 + round).padStart(3, '0')}x`, 1)
        await storage.set('app', 'a-before-everything', 1)
        if (seen[0] !== undefined) await storage.delete('app', seen[0])
        round++
      } while (cursor !== undefined && round < 50)
      // Every key present throughout appears exactly once, in order.
      const kept = seen.filter((k) => initial.includes(k))
      expect(kept).toEqual(initial)
      expect(new Set(seen).size).toBe(seen.length)
      expect([...seen].sort(compareKeys)).toEqual(seen)
      expect(seen).not.toContain('a-before-everything')
    })

    it('continues after the cursor key even when that key was deleted', async () => {
      for (const key of ['a', 'b', 'c', 'd']) await storage.set('app', key, 1)
      const first = await storage.list('app', { limit: 2 })
      await storage.delete('app', 'b')
      const second = await storage.list('app', { limit: 2, cursor: first.cursor! })
      expect(second.items.map((e) => e.key)).toEqual(['c', 'd'])
    })

    it('defaults to pages of 100 and accepts at most 1,000', async () => {
      await storage.batch(
        'app',
        Array.from({ length: 150 }, (_, i) => ({ op: 'set' as const, key: `k${i}`, value: i })),
      )
      const page = await storage.list('app')
      expect(page.items).toHaveLength(100)
      expect(page.cursor).toBeDefined()
      expect((await storage.list('app', { limit: 1000 })).items).toHaveLength(150)
      await expectCode(() => storage.list('app', { limit: 1001 }), 'E_VALIDATION')
      await expectCode(() => storage.list('app', { limit: 0 }), 'E_VALIDATION')
      await expectCode(() => storage.list('app', { limit: 1.5 }), 'E_VALIDATION')
    })

    it('refuses a cursor it did not make', async () => {
      await expectCode(() => storage.list('app', { cursor: 'not-a-cursor' }), 'E_VALIDATION')
      await expectCode(() => storage.list('app', { cursor: 'k1.%%%' }), 'E_VALIDATION')
      await expectCode(() => storage.list('app', { prefix: 'a/b' }), 'E_VALIDATION')
    })
  })
}
