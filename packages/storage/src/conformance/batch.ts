import { beforeEach, describe, expect, it } from 'vitest'
import type { Storage } from '../types.js'
import { type ConformanceHarness, expectCode } from './harness.js'

/** The conformance tests of batch: order and atomicity. @internal */
export function batchSuite(h: ConformanceHarness): void {
  describe('batch', () => {
    let storage: Storage
    beforeEach(() => {
      storage = h.storage
    })

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
}
