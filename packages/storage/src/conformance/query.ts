import { beforeEach, describe, expect, it } from 'vitest'
import type { Storage } from '../types.js'
import { type ConformanceHarness, expectCode } from './harness.js'

/** The conformance tests of query: operators, paths, ordering and limits. @internal */
export function querySuite(h: ConformanceHarness): void {
  describe('query', () => {
    let storage: Storage
    beforeEach(async () => {
      storage = h.storage
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
      expect(keys(await storage.query('app', { where: { level: { gte: 10, lt: 80 } } }))).toEqual([
        'd1',
        'd3',
      ])
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
      expect(keys(await storage.query('app', { where: { 'meta.floor': 1 } }))).toEqual(['d1', 'd3'])
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
      expect(keys(await storage.query('app', { where: { 'meta.floor': { gt: -1e308 } } }))).toEqual(
        ['d1', 'd2', 'd3'],
      )
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
      expect(keys(await storage.query('app', { where: { room: "' OR 1=1 --" } }))).toEqual(['sql'])
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
}
