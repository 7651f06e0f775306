import { beforeEach, describe, expect, it } from 'vitest'
import type { Storage } from '../types.js'
import type { ConformanceHarness } from './harness.js'

/** The conformance tests of concurrent writers. @internal */
export function concurrencySuite(h: ConformanceHarness): void {
  describe('concurrent writers', () => {
    let storage: Storage
    beforeEach(() => {
      storage = h.storage
    })

    it('keeps every one of many parallel sets', async () => {
      await Promise.all(Array.from({ length: 100 }, (_, i) => storage.set('app', `k${i}`, { i })))
      expect(await storage.count('app')).toBe(100)
      expect(await storage.get('app', 'k57')).toEqual({ i: 57 })
    })

    it('loses no update from parallel read-modify-write transactions', async () => {
      await storage.set('app', 'counter', 0)
      await Promise.all(
        Array.from({ length: 25 }, () =>
          storage.transaction(async (tx) => {
            const n = (await tx.get<number>('app', 'counter')) ?? 0
            await tx.set('app', 'counter', n + 1)
          }),
        ),
      )
      expect(await storage.get('app', 'counter')).toBe(25)
    })

    it('never interleaves parallel batches over the same keys', async () => {
      const keys = Array.from({ length: 10 }, (_, i) => `k${i}`)
      await Promise.all(
        Array.from({ length: 10 }, (_, writer) =>
          storage.batch(
            'app',
            keys.map((key) => ({ op: 'set' as const, key, value: writer })),
          ),
        ),
      )
      const values = (await storage.list('app')).items.map((e) => e.value)
      expect(values).toHaveLength(10)
      expect(new Set(values).size).toBe(1)
    })

    it('mixes parallel transactions and plain writes without losing either', async () => {
      await Promise.all([
        ...Array.from({ length: 20 }, (_, i) =>
          storage.transaction(async (tx) => {
            await tx.set('app', `tx${i}`, i)
          }),
        ),
        ...Array.from({ length: 20 }, (_, i) => storage.set('app', `plain${i}`, i)),
      ])
      expect(await storage.count('app', { prefix: 'tx' })).toBe(20)
      expect(await storage.count('app', { prefix: 'plain' })).toBe(20)
    })
  })
}
