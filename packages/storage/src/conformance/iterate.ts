import { describe, expect, it } from 'vitest'
import type { StorageEntry } from '../types.js'
import { type ConformanceHarness, expectCode } from './harness.js'

/** The conformance tests of iterate: key order, prefixes, paging and refusals. @internal */
export function iterateSuite(h: ConformanceHarness): void {
  describe('iterate', () => {
    const collect = async (entries: AsyncIterable<StorageEntry>): Promise<string[]> => {
      const keys: string[] = []
      for await (const { key } of entries) keys.push(key)
      return keys
    }

    it('yields every document in key order across pages, with its value', async () => {
      const keys = ['m', 'b', 'z', 'a', 'é', 'a.b', '10', '9']
      for (const key of keys) await h.storage.set('app', key, { key })
      const seen: StorageEntry[] = []
      for await (const entry of h.storage.iterate('app', { pageSize: 3 })) seen.push(entry)
      expect(seen.map((e) => e.key)).toEqual(['10', '9', 'a', 'a.b', 'b', 'm', 'z', 'é'])
      for (const { key, value } of seen) expect(value).toEqual({ key })
    })

    it('yields only the keys under a prefix, and nothing for an empty namespace', async () => {
      await h.storage.batch('app', [
        { op: 'set', key: 'room.kitchen', value: 1 },
        { op: 'set', key: 'room.hall', value: 2 },
        { op: 'set', key: 'rooms', value: 3 },
        { op: 'set', key: 'device.lamp', value: 4 },
      ])
      expect(await collect(h.storage.iterate('app', { prefix: 'room.', pageSize: 1 }))).toEqual([
        'room.hall',
        'room.kitchen',
      ])
      expect(await collect(h.storage.iterate('empty'))).toEqual([])
    })

    it('reads lazily: a key written behind the last one read is still yielded, and break stops', async () => {
      await h.storage.batch('app', [
        { op: 'set', key: 'a', value: 1 },
        { op: 'set', key: 'c', value: 3 },
      ])
      const seen: string[] = []
      for await (const { key } of h.storage.iterate('app', { pageSize: 1 })) {
        seen.push(key)
        if (key === 'a') await h.storage.set('app', 'b', 2)
      }
      expect(seen).toEqual(['a', 'b', 'c'])
      const first: string[] = []
      for await (const { key } of h.storage.iterate('app', { pageSize: 1 })) {
        first.push(key)
        break
      }
      expect(first).toEqual(['a'])
    })

    it('works on a namespace view and inside a transaction', async () => {
      await h.storage.set('app', 'k1', 1)
      expect(await collect(h.storage.forNamespace('app').iterate())).toEqual(['k1'])
      const inside = await h.storage.transaction(async (tx) => {
        await tx.set('app', 'k2', 2)
        return collect(tx.iterate('app'))
      })
      expect(inside).toEqual(['k1', 'k2'])
    })

    it('refuses a bad namespace, prefix or page size with E_VALIDATION on the first next()', async () => {
      await expectCode(() => collect(h.storage.iterate('Bad Namespace')), 'E_VALIDATION')
      await expectCode(() => collect(h.storage.iterate('app', { prefix: 'a/b' })), 'E_VALIDATION')
      for (const pageSize of [0, 1001, 1.5])
        await expectCode(() => collect(h.storage.iterate('app', { pageSize })), 'E_VALIDATION')
    })
  })
}
