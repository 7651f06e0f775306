import { beforeEach, describe, expect, it } from 'vitest'
import type { Storage } from '../types.js'
import { type ConformanceHarness, expectCode } from './harness.js'

/** The conformance tests of transactions: commit, rollback, nesting and handle misuse. @internal */
export function transactionsSuite(h: ConformanceHarness): void {
  describe('transactions', () => {
    let storage: Storage
    beforeEach(() => {
      storage = h.storage
    })

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
        expect(await tx.query('app', { where: { n: 2 } })).toEqual([{ key: 'y', value: { n: 2 } }])
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
}
