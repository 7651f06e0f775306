/// <reference types="node" preserve="true" />
/**
 * The conformance suite of `@core/storage`, for authors of backends and adapters (vitest, an
 * optional peer dependency).
 *
 * @module @core/storage/conformance
 */
import { CoreError, type CoreErrorCode } from '@core/contracts'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { compareKeys, type StorageAdapter } from './adapter.js'
import { runPluginMigrations } from './migrations.js'
import { createStorage, type NamespacedStorage, type Storage } from './storage.js'

/** Options of {@link runStorageConformance}. @public */
export interface StorageConformanceOptions {
  /** Shown in the suite's name, e.g. `sqlite`. @defaultValue the adapter's `name` */
  name?: string
}

/**
 * Registers the storage conformance suite (vitest `describe`/`it`) for an adapter: CRUD,
 * list and cursors, query operators, batch atomicity, transactions (rollback and nesting),
 * concurrent writers, unicode and large values, bad input, schema versions and plugin
 * migrations, close. It tests through `createStorage(adapter)`, so the validation layer runs
 * too. Every adapter runs it unchanged: there is no way to skip a test.
 *
 * Each test gets a fresh adapter from `makeAdapter` and closes it afterwards, so the adapter
 * must start empty (e.g. `:memory:`, or a new PostgreSQL schema per call).
 *
 * @param makeAdapter - Creates a fresh, empty, ready adapter.
 * @param options - `name` for the suite title.
 * @see CONVENTIONS.md §9 (one conformance suite for all adapters)
 * @example
 * ```ts
 * // packages/storage-sqlite/test/conformance.test.ts
 * import { runStorageConformance } from '@core/storage/conformance'
 * import { createSqliteAdapter } from '../src/index.js'
 * runStorageConformance(() => createSqliteAdapter({ filename: ':memory:' }), { name: 'sqlite' })
 * ```
 * @public
 */
export function runStorageConformance(
  makeAdapter: () => Promise<StorageAdapter>,
  options: StorageConformanceOptions = {},
): void {
  describe(`storage conformance: ${options.name ?? 'adapter'}`, () => {
    let adapter: StorageAdapter
    let storage: Storage
    beforeEach(async () => {
      adapter = await makeAdapter()
      storage = createStorage(adapter)
    })
    afterEach(async () => {
      await storage.close()
    })

    describe('CRUD', () => {
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

    describe('list and cursors', () => {
      it('lists keys in Unicode code point order', async () => {
        const keys = [
          'b',
          'a',
          'B',
          'é',
          'a.b',
          'a-b',
          'a_b',
          '\u{1F600}',
          '\uFFFD',
          '10',
          '9',
          'Z',
        ]
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

    describe('query', () => {
      beforeEach(async () => {
        await storage.batch('app', [
          {
            op: 'set',
            key: 'd1',
            value: { kind: 'lamp', room: 'kitchen', level: 10, on: true, meta: { floor: 1 } },
          },
          {
            op: 'set',
            key: 'd2',
            value: { kind: 'lamp', room: 'hall', level: 80, on: false, meta: { floor: 2 } },
          },
          {
            op: 'set',
            key: 'd3',
            value: { kind: 'sensor', room: 'kitchen', level: 55.5, on: null, meta: { floor: 1 } },
          },
          {
            op: 'set',
            key: 'd4',
            value: { kind: 'switch', room: 'Kitchen', level: '80', on: 1, meta: [1] },
          },
          { op: 'set', key: 'd5', value: { kind: 'lamp', room: 'éntrance', level: -3 } },
          { op: 'set', key: 'd6', value: 'a plain string document' },
          {
            op: 'set',
            key: 'd7',
            value: { kind: 'lamp', room: '\u{1F600}', level: 1e6, meta: { floor: 'top' } },
          },
        ])
      })
      const keys = (entries: { key: string }[]): string[] => entries.map((e) => e.key)

      it('matches a plain value by equality of the same JSON type', async () => {
        expect(keys(await storage.query('app', { where: { kind: 'lamp' } }))).toEqual([
          'd1',
          'd2',
          'd5',
          'd7',
        ])
        expect(keys(await storage.query('app', { where: { level: 80 } }))).toEqual(['d2'])
        expect(keys(await storage.query('app', { where: { level: '80' } }))).toEqual(['d4'])
        expect(keys(await storage.query('app', { where: { on: true } }))).toEqual(['d1'])
        expect(keys(await storage.query('app', { where: { on: false } }))).toEqual(['d2'])
        expect(keys(await storage.query('app', { where: { on: 1 } }))).toEqual(['d4'])
        expect(keys(await storage.query('app', { where: { on: null } }))).toEqual(['d3'])
        expect(keys(await storage.query('app', { where: { room: { eq: 'kitchen' } } }))).toEqual([
          'd1',
          'd3',
        ])
      })

      it('compares numbers numerically with gt, gte, lt and lte, ignoring other types', async () => {
        expect(keys(await storage.query('app', { where: { level: { gt: 10 } } }))).toEqual([
          'd2',
          'd3',
          'd7',
        ])
        expect(keys(await storage.query('app', { where: { level: { gte: 10 } } }))).toEqual([
          'd1',
          'd2',
          'd3',
          'd7',
        ])
        expect(keys(await storage.query('app', { where: { level: { lt: 10 } } }))).toEqual(['d5'])
        expect(keys(await storage.query('app', { where: { level: { lte: 10 } } }))).toEqual([
          'd1',
          'd5',
        ])
        expect(keys(await storage.query('app', { where: { level: { gte: 10, lt: 80 } } }))).toEqual(
          ['d1', 'd3'],
        )
        expect(
          keys(await storage.query('app', { where: { level: { gt: 55.4, lt: 55.6 } } })),
        ).toEqual(['d3'])
      })

      it('compares strings by code point, never by locale, and never with numbers', async () => {
        expect(keys(await storage.query('app', { where: { room: { gte: 'kitchen' } } }))).toEqual([
          'd1',
          'd3',
          'd5',
          'd7',
        ])
        expect(keys(await storage.query('app', { where: { room: { lt: 'a' } } }))).toEqual(['d4'])
        expect(keys(await storage.query('app', { where: { level: { gte: '0' } } }))).toEqual(['d4'])
        expect(keys(await storage.query('app', { where: { room: { gt: '\uFFFD' } } }))).toEqual([
          'd7',
        ])
      })

      it('matches any of a list with in, types mixed', async () => {
        expect(
          keys(await storage.query('app', { where: { room: { in: ['hall', 'éntrance'] } } })),
        ).toEqual(['d2', 'd5'])
        expect(
          keys(await storage.query('app', { where: { level: { in: [80, -3, 'nope'] } } })),
        ).toEqual(['d2', 'd5'])
        expect(keys(await storage.query('app', { where: { on: { in: [null, true] } } }))).toEqual([
          'd1',
          'd3',
        ])
        expect(await storage.query('app', { where: { room: { in: [] } } })).toEqual([])
      })

      it('follows nested paths through objects only', async () => {
        expect(keys(await storage.query('app', { where: { 'meta.floor': 1 } }))).toEqual([
          'd1',
          'd3',
        ])
        expect(keys(await storage.query('app', { where: { 'meta.floor': { gte: 2 } } }))).toEqual([
          'd2',
        ])
        expect(
          keys(await storage.query('app', { where: { 'meta.floor': { in: ['top'] } } })),
        ).toEqual(['d7'])
      })

      it('matches nothing on a missing path, whatever the operator', async () => {
        for (const cond of [
          null,
          'x',
          0,
          { gt: -1e308 },
          { lt: 'zzz' },
          { in: [null, 0, ''] },
          { eq: null },
        ]) {
          expect(await storage.query('app', { where: { nothing: cond } })).toEqual([])
          expect(await storage.query('app', { where: { 'kind.deeper': cond } })).toEqual([])
        }
        // 'meta' is an array in d4: segments never index arrays.
        expect(
          keys(await storage.query('app', { where: { 'meta.floor': { gt: -1e308 } } })),
        ).toEqual(['d1', 'd2', 'd3'])
      })

      it('requires every condition to hold', async () => {
        expect(
          keys(await storage.query('app', { where: { kind: 'lamp', room: 'kitchen' } })),
        ).toEqual(['d1'])
        expect(await storage.query('app', { where: { kind: 'lamp', level: { gt: 1e7 } } })).toEqual(
          [],
        )
      })

      it('returns every document for an empty where, by key, within the limit', async () => {
        expect(keys(await storage.query('app'))).toEqual(['d1', 'd2', 'd3', 'd4', 'd5', 'd6', 'd7'])
        expect(keys(await storage.query('app', { where: {}, limit: 2 }))).toEqual(['d1', 'd2'])
        const page = await storage.query('app', { where: { kind: 'lamp' }, limit: 3 })
        expect(page[0]).toEqual({
          key: 'd1',
          value: { kind: 'lamp', room: 'kitchen', level: 10, on: true, meta: { floor: 1 } },
        })
      })

      it('orders by a path: missing, null, false, true, numbers, strings, then objects; ties by key', async () => {
        const asc = await storage.query('app', { orderBy: { path: 'level' } })
        expect(keys(asc)).toEqual(['d6', 'd5', 'd1', 'd3', 'd2', 'd7', 'd4'])
        const desc = await storage.query('app', { orderBy: { path: 'level', direction: 'desc' } })
        expect(keys(desc)).toEqual(['d4', 'd7', 'd2', 'd3', 'd1', 'd5', 'd6'])
        const on = await storage.query('app', { orderBy: { path: 'on' } })
        expect(keys(on)).toEqual(['d5', 'd6', 'd7', 'd3', 'd2', 'd1', 'd4'])
        const onDesc = await storage.query('app', { orderBy: { path: 'on', direction: 'desc' } })
        expect(keys(onDesc)).toEqual(['d4', 'd1', 'd2', 'd3', 'd5', 'd6', 'd7'])
        const meta = await storage.query('app', { orderBy: { path: 'meta' }, limit: 7 })
        expect(keys(meta)).toEqual(['d5', 'd6', 'd1', 'd2', 'd3', 'd4', 'd7'])
        const top = await storage.query('app', {
          where: { kind: 'lamp' },
          orderBy: { path: 'level', direction: 'desc' },
          limit: 2,
        })
        expect(keys(top)).toEqual(['d7', 'd2'])
        const rooms = await storage.query('app', {
          where: { kind: { in: ['lamp', 'sensor'] } },
          orderBy: { path: 'room' },
        })
        expect(keys(rooms)).toEqual(['d2', 'd1', 'd3', 'd5', 'd7'])
      })

      it('treats SQL-looking operands as plain strings', async () => {
        await storage.set('app', 'sql', { room: "' OR 1=1 --" })
        expect(keys(await storage.query('app', { where: { room: "' OR 1=1 --" } }))).toEqual([
          'sql',
        ])
        expect(await storage.query('app', { where: { room: "kitchen' OR '1'='1" } })).toEqual([])
        expect(await storage.count('app')).toBe(8)
      })

      it('never reads inherited members for __proto__ or constructor paths', async () => {
        expect(
          await storage.query('app', { where: { constructor: { in: [null, 'Object'] } } }),
        ).toEqual([])
        expect(await storage.query('app', { where: { 'constructor.name': 'Object' } })).toEqual([])
        await storage.set(
          'app',
          'proto',
          JSON.parse('{"__proto__":{"polluted":1},"constructor":{"name":"x"}}'),
        )
        expect(keys(await storage.query('app', { where: { '__proto__.polluted': 1 } }))).toEqual([
          'proto',
        ])
        expect(keys(await storage.query('app', { where: { 'constructor.name': 'x' } }))).toEqual([
          'proto',
        ])
        expect(({} as Record<string, unknown>).polluted).toBeUndefined()
      })

      it('refuses malformed queries with E_VALIDATION', async () => {
        const bad: unknown[] = [
          { where: { level: { near: 3 } } },
          { where: { level: {} } },
          { where: { level: [1, 2] } },
          { where: { level: { gt: { a: 1 } } } },
          { where: { level: { gt: null } } },
          { where: { level: { gt: Number.NaN } } },
          { where: { level: { in: 'x' } } },
          { where: { level: { in: [{}] } } },
          { where: { '0': 1 } },
          { where: { 'a..b': 1 } },
          { where: { '': 1 } },
          { where: { 'a[0]': 1 } },
          { where: { "a'); DROP TABLE x; --": 1 } },
          { orderBy: { path: 'level', direction: 'up' } },
          { orderBy: 'level' },
          { limit: 0 },
          { limit: 1001 },
          { select: ['a'] },
          'where level > 3',
        ]
        for (const options of bad) {
          await expectCode(() => storage.query('app', options as never), 'E_VALIDATION')
        }
      })
    })

    describe('batch', () => {
      it('applies sets and deletes in order', async () => {
        await storage.set('app', 'gone', 1)
        await storage.batch('app', [
          { op: 'set', key: 'a', value: 1 },
          { op: 'set', key: 'b', value: 2 },
          { op: 'delete', key: 'gone' },
          { op: 'set', key: 'a', value: 3 },
          { op: 'set', key: 'c', value: 4 },
          { op: 'delete', key: 'c' },
          { op: 'delete', key: 'never-there' },
        ])
        expect((await storage.list('app')).items).toEqual([
          { key: 'a', value: 3 },
          { key: 'b', value: 2 },
        ])
      })

      it('applies nothing when one operation is invalid', async () => {
        await storage.set('app', 'keep', 'original')
        const ops = Array.from({ length: 500 }, (_, i) => ({
          op: 'set' as const,
          key: `k${i}`,
          value: i,
        }))
        const broken = [
          ...ops,
          { op: 'set' as const, key: 'keep', value: 'changed' },
          { op: 'set' as const, key: 'bad', value: () => 1 },
        ]
        const err = await expectCode(() => storage.batch('app', broken), 'E_VALIDATION')
        expect(err.message).toContain('#501')
        await expectCode(
          () => storage.batch('app', [...ops, { op: 'delete', key: '../x' }]),
          'E_VALIDATION',
        )
        await expectCode(
          () => storage.batch('app', [...ops, { op: 'upsert', key: 'x' } as never]),
          'E_VALIDATION',
        )
        await expectCode(
          () => storage.batch('app', [{ op: 'set', key: 'x' } as never]),
          'E_VALIDATION',
        )
        await expectCode(() => storage.batch('app', 'nope' as never), 'E_VALIDATION')
        expect(await storage.count('app')).toBe(1)
        expect(await storage.get('app', 'keep')).toBe('original')
      })

      it('accepts an empty batch as a no-op', async () => {
        await storage.batch('app', [])
        expect(await storage.count('app')).toBe(0)
      })

      it('writes 10,000 documents in one batch', async () => {
        const ops = Array.from({ length: 10_000 }, (_, i) => ({
          op: 'set' as const,
          key: `item.${String(i).padStart(5, '0')}`,
          value: { i, name: `item ${i}` },
        }))
        await storage.batch('app', ops)
        expect(await storage.count('app')).toBe(10_000)
        expect(await storage.get('app', 'item.09999')).toEqual({ i: 9999, name: 'item 9999' })
      })

      it('rolls back with the transaction it ran in', async () => {
        await expect(
          storage.transaction(async (tx) => {
            await tx.batch('app', [
              { op: 'set', key: 'a', value: 1 },
              { op: 'set', key: 'b', value: 2 },
            ])
            throw new Error('abort')
          }),
        ).rejects.toThrow('abort')
        expect(await storage.count('app')).toBe(0)
      })
    })

    describe('transactions', () => {
      it('commits when the function fulfils and resolves with its result', async () => {
        const result = await storage.transaction(async (tx) => {
          await tx.set('app', 'a', 1)
          await tx.set('other', 'b', 2)
          expect(await tx.get('app', 'a')).toBe(1)
          return 'done'
        })
        expect(result).toBe('done')
        expect(await storage.get('app', 'a')).toBe(1)
        expect(await storage.get('other', 'b')).toBe(2)
      })

      it('rolls back every write and re-throws the same error when the function rejects', async () => {
        await storage.set('app', 'a', 'before')
        await storage.set('app', 'd', 'keep-me')
        const boom = new Error('boom')
        const err = await storage
          .transaction(async (tx) => {
            await tx.set('app', 'a', 'during')
            await tx.set('app', 'new', 1)
            await tx.delete('app', 'd')
            await tx.batch('app', [{ op: 'set', key: 'b', value: 2 }])
            await tx.setSchemaVersion('app', 7)
            throw boom
          })
          .catch((e: unknown) => e)
        expect(err).toBe(boom)
        expect(await storage.get('app', 'a')).toBe('before')
        expect(await storage.get('app', 'd')).toBe('keep-me')
        expect(await storage.has('app', 'new')).toBe(false)
        expect(await storage.has('app', 'b')).toBe(false)
        expect(await storage.schemaVersion('app')).toBe(0)
      })

      it('sees its own uncommitted writes in get, list, count and query', async () => {
        await storage.set('app', 'x', { n: 1 })
        await storage.transaction(async (tx) => {
          await tx.set('app', 'y', { n: 2 })
          await tx.delete('app', 'x')
          expect(await tx.has('app', 'x')).toBe(false)
          expect(await tx.count('app')).toBe(1)
          expect((await tx.list('app')).items).toEqual([{ key: 'y', value: { n: 2 } }])
          expect(await tx.query('app', { where: { n: 2 } })).toEqual([
            { key: 'y', value: { n: 2 } },
          ])
        })
      })

      it('never shows uncommitted writes outside the transaction', async () => {
        await storage.set('app', 'k', 'committed')
        let outside: Promise<unknown> | undefined
        await storage
          .transaction(async (tx) => {
            await tx.set('app', 'k', 'uncommitted')
            outside = storage.get('app', 'k')
            // Give a concurrent reader every chance to run before the rollback.
            await new Promise((resolve) => setTimeout(resolve, 20))
            throw new Error('roll back')
          })
          .catch(() => undefined)
        expect(await outside).toBe('committed')
        expect(await storage.get('app', 'k')).toBe('committed')
      })

      it('commits a successful nested transaction with the outer one', async () => {
        await storage.transaction(async (tx) => {
          await tx.set('app', 'outer', 1)
          const r = await tx.transaction(async (inner) => {
            await inner.set('app', 'inner', 2)
            expect(await inner.get('app', 'outer')).toBe(1)
            return 'inner-result'
          })
          expect(r).toBe('inner-result')
          expect(await tx.get('app', 'inner')).toBe(2)
        })
        expect(await storage.get('app', 'outer')).toBe(1)
        expect(await storage.get('app', 'inner')).toBe(2)
      })

      it('undoes only a failed nested transaction and lets the outer one go on', async () => {
        const boom = new Error('inner failed')
        await storage.transaction(async (tx) => {
          await tx.set('app', 'outer', 1)
          const err = await tx
            .transaction(async (inner) => {
              await inner.set('app', 'inner', 2)
              await inner.set('app', 'outer', 'changed-by-inner')
              throw boom
            })
            .catch((e: unknown) => e)
          expect(err).toBe(boom)
          expect(await tx.has('app', 'inner')).toBe(false)
          expect(await tx.get('app', 'outer')).toBe(1)
          await tx.set('app', 'after', 3)
        })
        expect(await storage.get('app', 'outer')).toBe(1)
        expect(await storage.has('app', 'inner')).toBe(false)
        expect(await storage.get('app', 'after')).toBe(3)
      })

      it('rolls back committed nested work when the outer transaction fails', async () => {
        await storage
          .transaction(async (tx) => {
            await tx.transaction(async (inner) => {
              await inner.set('app', 'inner', 1)
              await inner.transaction(async (deepest) => {
                await deepest.set('app', 'deepest', 2)
              })
            })
            throw new Error('outer fails')
          })
          .catch(() => undefined)
        expect(await storage.count('app')).toBe(0)
      })

      it('nests three levels, undoing only the level that failed', async () => {
        await storage.transaction(async (t1) => {
          await t1.set('app', 'l1', 1)
          await t1.transaction(async (t2) => {
            await t2.set('app', 'l2', 2)
            await t2
              .transaction(async (t3) => {
                await t3.set('app', 'l3', 3)
                throw new Error('level 3 fails')
              })
              .catch(() => undefined)
            await t2.set('app', 'l2b', 22)
          })
        })
        expect((await storage.list('app')).items.map((e) => e.key)).toEqual(['l1', 'l2', 'l2b'])
      })

      it('refuses the parent handle while a nested transaction runs, and any handle after it ended', async () => {
        let kept: Storage['get'] | undefined
        await storage.transaction(async (tx) => {
          await tx.transaction(async (inner) => {
            await expectCode(() => tx.set('app', 'x', 1), 'E_CONFLICT')
            await inner.set('app', 'y', 1)
          })
          await tx.set('app', 'z', 1)
          kept = (ns, key) => tx.get(ns, key)
        })
        await expectCode(() => kept!('app', 'y'), 'E_CONFLICT')
        expect((await storage.list('app')).items.map((e) => e.key)).toEqual(['y', 'z'])
      })

      it('refuses a transaction function that is not a function', async () => {
        await expectCode(() => storage.transaction('nope' as never), 'E_VALIDATION')
      })

      it('keeps a transaction usable after a validation error inside it', async () => {
        await storage.transaction(async (tx) => {
          await expectCode(() => tx.set('app', '../x', 1), 'E_VALIDATION')
          await expectCode(() => tx.set('app', 'f', () => 1), 'E_VALIDATION')
          await tx.set('app', 'ok', 1)
        })
        expect(await storage.get('app', 'ok')).toBe(1)
      })

      it('runs operations issued together on one handle in call order', async () => {
        await storage.transaction(async (tx) => {
          await Promise.all([tx.set('app', 'a', 1), tx.set('app', 'a', 2), tx.set('app', 'b', 3)])
          const [a, b] = await Promise.all([tx.get('app', 'a'), tx.get('app', 'b')])
          expect([a, b]).toEqual([2, 3])
        })
        expect(await storage.get('app', 'a')).toBe(2)
      })
    })

    describe('concurrent writers', () => {
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

    describe('unicode and large values', () => {
      it('stores unicode keys of every script and lists them', async () => {
        const keys = [
          'café',
          '日本語.キー',
          'ключ',
          'مفتاح',
          '\u{1F600}',
          '👩‍👩‍👧',
          'e\u0301',
          'Ω.ω',
          '#tag:@x+1=2~3%4,5',
        ]
        for (const key of keys) await storage.set('app', key, { key })
        for (const key of keys) expect(await storage.get('app', key)).toEqual({ key })
        expect((await storage.list('app')).items.map((e) => e.key)).toEqual(
          [...keys].sort(compareKeys),
        )
        expect(await storage.count('app', { prefix: '日本語.' })).toBe(1)
      })

      it('stores unicode text verbatim', async () => {
        const value = {
          text: 'Grüße, 世界! \u{1F600} مرحبا e\u0301 \u200D \uFEFF \t\n\r "quotes" \\backslash\\ \u007F \u2028',
          'ключ \u{1F600}': 'member names too',
        }
        await storage.set('app', 'k', value)
        expect(await storage.get('app', 'k')).toEqual(value)
      })

      it('accepts a value just under the size limit and refuses one just over it', async () => {
        const limit = storage.maxValueBytes
        expect(limit).toBe(1024 * 1024)
        const near = 'x'.repeat(limit - 2) // JSON text: the string plus two quotes
        await storage.set('app', 'near', near)
        expect(await storage.get('app', 'near')).toBe(near)
        const err = await expectCode(() => storage.set('app', 'over', `${near}x`), 'E_VALIDATION')
        expect(err.message).toContain(String(limit))
        // Counted in UTF-8 bytes, not characters.
        await expectCode(() => storage.set('app', 'wide', 'é'.repeat(limit / 2)), 'E_VALIDATION')
        expect(await storage.has('app', 'over')).toBe(false)
        expect(await storage.has('app', 'wide')).toBe(false)
      })

      it('stores many medium documents and lists them back intact', async () => {
        const doc = { blob: 'y'.repeat(64 * 1024), list: Array.from({ length: 100 }, (_, i) => i) }
        await storage.batch(
          'app',
          Array.from({ length: 20 }, (_, i) => ({ op: 'set' as const, key: `m${i}`, value: doc })),
        )
        const page = await storage.list('app', { limit: 20 })
        expect(page.items).toHaveLength(20)
        expect(page.items.every((e) => (e.value as typeof doc).blob.length === 64 * 1024)).toBe(
          true,
        )
      })
    })

    describe('bad input', () => {
      const badNames: unknown[] = [
        '../x',
        '',
        'n'.repeat(200),
        'a\u0000b',
        'Upper',
        'with space',
        'a.b',
        42,
        undefined,
        null,
      ]
      const badKeys: unknown[] = [
        '../x',
        '',
        'k'.repeat(200),
        'a\u0000b',
        'a/b',
        'a\\b',
        ' ',
        'a b',
        '.a',
        'a.',
        'a..b',
        '..',
        'tab\tkey',
        'line\nkey',
        '\uD800',
        'x\uDC00',
        'rtl\u202Eoverride',
        5,
        undefined,
        null,
        {},
      ]

      it('refuses bad namespaces with E_VALIDATION on every operation', async () => {
        for (const ns of badNames) {
          const n = ns as string
          await expectCode(() => storage.get(n, 'k'), 'E_VALIDATION')
          await expectCode(() => storage.set(n, 'k', 1), 'E_VALIDATION')
          await expectCode(() => storage.delete(n, 'k'), 'E_VALIDATION')
          await expectCode(() => storage.has(n, 'k'), 'E_VALIDATION')
          await expectCode(() => storage.count(n), 'E_VALIDATION')
          await expectCode(() => storage.list(n), 'E_VALIDATION')
          await expectCode(() => storage.query(n), 'E_VALIDATION')
          await expectCode(() => storage.batch(n, []), 'E_VALIDATION')
          await expectCode(() => storage.schemaVersion(n), 'E_VALIDATION')
        }
      })

      it('refuses bad keys with E_VALIDATION and stores nothing', async () => {
        for (const key of badKeys) {
          const k = key as string
          const err = await expectCode(() => storage.set('app', k, 1), 'E_VALIDATION')
          expect(err.message).toMatch(/storage key/)
          await expectCode(() => storage.get('app', k), 'E_VALIDATION')
          await expectCode(() => storage.delete('app', k), 'E_VALIDATION')
          await expectCode(() => storage.has('app', k), 'E_VALIDATION')
        }
        expect(await storage.count('app')).toBe(0)
        // 128 characters is the longest key, counted in code points.
        await storage.set('app', 'k'.repeat(128), 1)
        await storage.set('app', '\u{1F600}'.repeat(128), 1)
        await expectCode(() => storage.set('app', 'k'.repeat(129), 1), 'E_VALIDATION')
        expect(await storage.count('app')).toBe(2)
      })

      it('refuses values that are not JSON with E_VALIDATION and stores nothing', async () => {
        const cyclic: Record<string, unknown> = { a: 1 }
        cyclic.self = cyclic
        const values: unknown[] = [
          () => 1,
          { f: () => 1 },
          10n,
          { n: 10n },
          Symbol('s'),
          cyclic,
          [cyclic],
          Number.NaN,
          { n: Number.POSITIVE_INFINITY },
          undefined,
          new Map([['a', 1]]),
          { when: new (class Custom {})() },
          'nul \u0000 inside',
          { 'nul\u0000member': 1 },
          'lone \uD800 surrogate',
        ]
        for (const value of values)
          await expectCode(() => storage.set('app', 'k', value), 'E_VALIDATION')
        expect(await storage.count('app')).toBe(0)
      })

      it('stores a Date through its toJSON, as JSON.stringify does', async () => {
        await storage.set('app', 'when', { at: new Date(0) })
        expect(await storage.get('app', 'when')).toEqual({ at: '1970-01-01T00:00:00.000Z' })
      })

      it('keeps literal backslash-u text that only looks like an escaped NUL', async () => {
        await storage.set('app', 'k', '\\u0000 and \\ud800 as plain text')
        expect(await storage.get('app', 'k')).toBe('\\u0000 and \\ud800 as plain text')
      })

      it('stores __proto__ and constructor members as plain data without polluting prototypes', async () => {
        const doc = JSON.parse(
          '{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}},"a":1}',
        )
        await storage.set('app', 'evil', doc)
        await storage.batch('app', [{ op: 'set', key: 'evil2', value: doc }])
        for (const key of ['evil', 'evil2']) {
          const back = (await storage.get('app', key)) as Record<string, unknown>
          expect(Object.getPrototypeOf(back)).toBe(Object.prototype)
          expect(Object.hasOwn(back, '__proto__')).toBe(true)
          expect(Object.getOwnPropertyDescriptor(back, '__proto__')?.value).toEqual({
            polluted: true,
          })
          expect(back.constructor).toEqual({ prototype: { polluted: true } })
          expect(back.a).toBe(1)
        }
        const listed = (await storage.list('app')).items[0]!.value as Record<string, unknown>
        expect(Object.hasOwn(listed, '__proto__')).toBe(true)
        expect(({} as Record<string, unknown>).polluted).toBeUndefined()
        expect((Object.prototype as Record<string, unknown>).polluted).toBeUndefined()
        await storage.set('app', '__proto__', { ok: true })
        await storage.set('app', 'constructor', { ok: true })
        expect(await storage.get('app', '__proto__')).toEqual({ ok: true })
        expect(await storage.get('app', 'constructor')).toEqual({ ok: true })
      })

      it('stores SQL-looking keys and values verbatim and never runs them', async () => {
        const evil = [
          "'; DROP TABLE documents; --",
          "Robert'); DROP TABLE students;--",
          '" OR ""="',
          '1; DELETE FROM core_storage_documents',
          '$$; DROP SCHEMA public CASCADE; $$',
        ]
        for (const [i, text] of evil.entries()) await storage.set('app', `v${i}`, { text })
        await storage.set('app', "x';DROP_TABLE_documents;--", evil)
        await storage.set('app', '%_*?[]', 'wildcards')
        for (const [i, text] of evil.entries())
          expect(await storage.get('app', `v${i}`)).toEqual({ text })
        expect(await storage.get('app', "x';DROP_TABLE_documents;--")).toEqual(evil)
        expect(await storage.count('app')).toBe(evil.length + 2)
        // LIKE/GLOB wildcards in a prefix are plain characters.
        expect(await storage.count('app', { prefix: '%' })).toBe(1)
        expect(await storage.count('app', { prefix: '_' })).toBe(0)
        expect(await storage.count('app', { prefix: "x'" })).toBe(1)
        expect((await storage.list('app', { prefix: '%_' })).items).toEqual([
          { key: '%_*?[]', value: 'wildcards' },
        ])
      })
    })

    describe('schema versions and plugin migrations', () => {
      it('records a schema version per namespace, apart from the documents', async () => {
        expect(await storage.schemaVersion('app')).toBe(0)
        await storage.setSchemaVersion('app', 3)
        expect(await storage.schemaVersion('app')).toBe(3)
        expect(await storage.schemaVersion('other')).toBe(0)
        expect(await storage.count('app')).toBe(0)
        expect((await storage.list('app')).items).toEqual([])
        await expectCode(() => storage.setSchemaVersion('app', -1), 'E_VALIDATION')
        await expectCode(() => storage.setSchemaVersion('app', 1.5), 'E_VALIDATION')
      })

      it('runs missing migration steps in order and records the version', async () => {
        const ran: number[] = []
        const migrations = {
          1: async (tx: NamespacedStorage) => {
            ran.push(1)
            await tx.set('settings', { v: 1 })
          },
          2: async (tx: NamespacedStorage) => {
            ran.push(2)
            const s = (await tx.get<{ v: number }>('settings'))!
            await tx.set('settings', { v: s.v + 1 })
          },
        }
        const first = await runPluginMigrations(storage, 'lights', {
          version: 1,
          migrations: { 1: migrations[1] },
        })
        expect(first).toEqual({ namespace: 'lights', from: 0, to: 1, applied: [1] })
        const second = await runPluginMigrations(storage, 'lights', { version: 2, migrations })
        expect(second).toEqual({ namespace: 'lights', from: 1, to: 2, applied: [2] })
        expect(await runPluginMigrations(storage, 'lights', { version: 2, migrations })).toEqual({
          namespace: 'lights',
          from: 2,
          to: 2,
          applied: [],
        })
        expect(ran).toEqual([1, 2])
        expect(await storage.get('lights', 'settings')).toEqual({ v: 2 })
        expect(await storage.schemaVersion('lights')).toBe(2)
      })

      it('rolls back every step when one fails', async () => {
        await storage.set('lights', 'keep', 'before')
        const err = await expectCode(
          () =>
            runPluginMigrations(storage, 'lights', {
              version: 3,
              migrations: {
                1: async (tx) => tx.set('keep', 'step1'),
                2: async (tx) => tx.set('new', 'step2'),
                3: async () => {
                  throw new Error('step 3 is broken')
                },
              },
            }),
          'E_STORAGE',
        )
        expect(err.message).toContain('version 3')
        expect(err.message).toContain('step 3 is broken')
        expect(await storage.get('lights', 'keep')).toBe('before')
        expect(await storage.has('lights', 'new')).toBe(false)
        expect(await storage.schemaVersion('lights')).toBe(0)
      })

      it('refuses a downgrade with E_STORAGE and touches nothing', async () => {
        await storage.setSchemaVersion('lights', 5)
        await storage.set('lights', 'data', 1)
        let ran = false
        const err = await expectCode(
          () =>
            runPluginMigrations(storage, 'lights', {
              version: 3,
              migrations: {
                3: async (tx) => {
                  ran = true
                  await tx.set('data', 2)
                },
              },
            }),
          'E_STORAGE',
        )
        expect(err.message).toMatch(/downgraded/)
        expect(ran).toBe(false)
        expect(await storage.get('lights', 'data')).toBe(1)
        expect(await storage.schemaVersion('lights')).toBe(5)
      })

      it('runs one migration when two start at once', async () => {
        let runs = 0
        const options = {
          version: 1,
          migrations: {
            1: async (tx: NamespacedStorage) => {
              runs++
              await tx.set('once', runs)
            },
          },
        }
        await Promise.all([
          runPluginMigrations(storage, 'lights', options),
          runPluginMigrations(storage, 'lights', options),
        ])
        expect(runs).toBe(1)
        expect(await storage.schemaVersion('lights')).toBe(1)
      })
    })

    describe('close', () => {
      it('refuses operations after close with E_STORAGE, and closes twice without error', async () => {
        await storage.set('app', 'k', 1)
        await storage.close()
        await expectCode(() => storage.get('app', 'k'), 'E_STORAGE')
        await expectCode(() => storage.set('app', 'k', 2), 'E_STORAGE')
        await expectCode(() => storage.transaction(async () => 1), 'E_STORAGE')
        await storage.close()
      })

      it('lets a running transaction finish before closing', async () => {
        let release!: () => void
        const gate = new Promise<void>((resolve) => {
          release = resolve
        })
        const running = storage.transaction(async (tx) => {
          await gate
          await tx.set('app', 'k', 'committed')
          return 'ok'
        })
        await new Promise((resolve) => setTimeout(resolve, 5))
        const closing = storage.close()
        release()
        expect(await running).toBe('ok')
        await closing
        // Reopening is adapter-specific; what matters is that neither promise rejected.
      })
    })
  })
}

async function expectCode(run: () => Promise<unknown>, code: CoreErrorCode): Promise<CoreError> {
  let caught: unknown
  try {
    await run()
  } catch (error) {
    caught = error
  }
  if (!CoreError.is(caught, code)) {
    const got = CoreError.is(caught) ? `${caught.code}: ${caught.message}` : String(caught)
    throw new Error(`Expected a CoreError ${code}, got ${caught === undefined ? 'no error' : got}`)
  }
  expect(caught.message.length).toBeGreaterThan(10)
  return caught
}
