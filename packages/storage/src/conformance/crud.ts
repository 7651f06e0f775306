import { beforeEach, describe, expect, it } from 'vitest'
import type { Storage } from '../types.js'
import { type ConformanceHarness, expectCode } from './harness.js'

/** The conformance tests of CRUD: get, set, delete, has, count and namespaces. @internal */
export function crudSuite(h: ConformanceHarness): void {
  describe('CRUD', () => {
    let storage: Storage
    beforeEach(() => {
      storage = h.storage
    })

    it('resolves undefined for an absent key', async () => {
      expect(await storage.get('app', 'missing')).toBeUndefined()
      expect(await storage.has('app', 'missing')).toBe(false)
    })

    it('returns what was set, as a fresh copy each time', async () => {
      const doc = { name: 'Kitchen', tags: ['a', 'b'], nested: { on: true } }
      await storage.set('app', 'room.kitchen', doc)
      doc.tags.push('changed-after-set')
      const first = await storage.get<typeof doc>('app', 'room.kitchen')
      expect(first).toEqual({ name: 'Kitchen', tags: ['a', 'b'], nested: { on: true } })
      first!.nested.on = false
      expect(await storage.get('app', 'room.kitchen')).toEqual({
        name: 'Kitchen',
        tags: ['a', 'b'],
        nested: { on: true },
      })
      expect(await storage.has('app', 'room.kitchen')).toBe(true)
    })

    it('replaces a document on a second set', async () => {
      await storage.set('app', 'k', { v: 1, old: true })
      await storage.set('app', 'k', { v: 2 })
      expect(await storage.get('app', 'k')).toEqual({ v: 2 })
      expect(await storage.count('app')).toBe(1)
    })

    it('deletes a document and reports whether it existed', async () => {
      await storage.set('app', 'k', 1)
      expect(await storage.delete('app', 'k')).toBe(true)
      expect(await storage.delete('app', 'k')).toBe(false)
      expect(await storage.get('app', 'k')).toBeUndefined()
      expect(await storage.has('app', 'k')).toBe(false)
    })

    it('keeps namespaces apart', async () => {
      await storage.set('one', 'k', 'first')
      await storage.set('two', 'k', 'second')
      expect(await storage.get('one', 'k')).toBe('first')
      expect(await storage.get('two', 'k')).toBe('second')
      await storage.delete('one', 'k')
      expect(await storage.get('two', 'k')).toBe('second')
      expect(await storage.count('one')).toBe(0)
    })

    it('round-trips every kind of JSON value, top-level scalars included', async () => {
      const values: unknown[] = [
        null,
        true,
        false,
        0,
        -1.5,
        1e300,
        5e-324,
        Number.MAX_SAFE_INTEGER,
        '',
        'text',
        [],
        {},
        [1, 'two', null, [true], { three: 3 }],
        { a: { b: { c: [{ d: null }] } }, empty: {}, list: [] },
      ]
      for (const [i, value] of values.entries()) await storage.set('app', `v${i}`, value)
      for (const [i, value] of values.entries()) {
        expect(await storage.get('app', `v${i}`)).toEqual(value)
      }
    })

    it('drops undefined object members and turns undefined array items into null', async () => {
      await storage.set('app', 'k', { keep: 1, drop: undefined, list: [undefined, 2] })
      expect(await storage.get('app', 'k')).toEqual({ keep: 1, list: [null, 2] })
    })

    it('counts documents, optionally by key prefix', async () => {
      await storage.batch('app', [
        { op: 'set', key: 'room.a', value: 1 },
        { op: 'set', key: 'room.b', value: 2 },
        { op: 'set', key: 'room2', value: 3 },
        { op: 'set', key: 'other', value: 4 },
      ])
      await storage.set('elsewhere', 'room.c', 5)
      expect(await storage.count('app')).toBe(4)
      expect(await storage.count('app', { prefix: 'room.' })).toBe(2)
      expect(await storage.count('app', { prefix: 'room' })).toBe(3)
      expect(await storage.count('app', { prefix: 'zzz' })).toBe(0)
      expect(await storage.count('empty')).toBe(0)
    })

    it('offers the same API bound to one namespace', async () => {
      const lights = storage.forNamespace('lights')
      expect(lights.namespace).toBe('lights')
      await lights.set('kitchen', { on: true })
      expect(await storage.get('lights', 'kitchen')).toEqual({ on: true })
      expect(await lights.get('kitchen')).toEqual({ on: true })
      expect(await lights.has('kitchen')).toBe(true)
      expect(await lights.count()).toBe(1)
      expect((await lights.list()).items).toEqual([{ key: 'kitchen', value: { on: true } }])
      expect(await lights.query({ where: { on: true } })).toHaveLength(1)
      await lights.batch([{ op: 'set', key: 'hall', value: { on: false } }])
      await lights.transaction(async (tx) => {
        expect(tx.namespace).toBe('lights')
        await tx.delete('kitchen')
      })
      expect(await lights.delete('hall')).toBe(true)
      expect(await storage.count('lights')).toBe(0)
      await expectCode(() => Promise.resolve(storage.forNamespace('../x')), 'E_VALIDATION')
    })
  })
}
