import { beforeEach, describe, expect, it } from 'vitest'
import { compareKeys } from '../adapter.js'
import type { Storage } from '../types.js'
import { type ConformanceHarness, expectCode } from './harness.js'

/** The conformance tests of unicode and large values. @internal */
export function valuesSuite(h: ConformanceHarness): void {
  describe('unicode and large values', () => {
    let storage: Storage
    beforeEach(() => {
      storage = h.storage
    })

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
      expect(page.items.every((e) => (e.value as typeof doc).blob.length === 64 * 1024)).toBe(true)
    })
  })
}
