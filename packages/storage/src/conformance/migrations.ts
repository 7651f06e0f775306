import { beforeEach, describe, expect, it } from 'vitest'
import { runPluginMigrations } from '../migrations.js'
import type { NamespacedStorage, Storage } from '../types.js'
import { type ConformanceHarness, expectCode } from './harness.js'

/** The conformance tests of schema versions and plugin migrations. @internal */
export function migrationsSuite(h: ConformanceHarness): void {
  describe('schema versions and plugin migrations', () => {
    let storage: Storage
    beforeEach(() => {
      storage = h.storage
    })

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
}
