import { beforeEach, describe, expect, it } from 'vitest'
import type { Storage } from '../types.js'
import { type ConformanceHarness, expectCode } from './harness.js'

/** The conformance tests of bad input: every refusal is E_VALIDATION. @internal */
export function badInputSuite(h: ConformanceHarness): void {
  describe('bad input', () => {
    let storage: Storage
    beforeEach(() => {
      storage = h.storage
    })

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
}
