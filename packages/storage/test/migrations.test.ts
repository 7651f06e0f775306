import { CoreError } from '@core/contracts'
import { describe, expect, it } from 'vitest'
import {
  createMemoryAdapter,
  createStorage,
  runPluginMigrations,
  type StorageAdapter,
} from '../src/index.js'

async function rejection(run: () => Promise<unknown>): Promise<CoreError> {
  const error = await run().then(
    () => undefined,
    (e: unknown) => e,
  )
  if (!CoreError.is(error)) throw new Error(`expected a CoreError, got ${String(error)}`)
  return error
}

describe('runPluginMigrations', () => {
  it('runs steps in ascending version order whatever the object order, skipping versions without a step', async () => {
    const storage = createStorage(createMemoryAdapter())
    const order: number[] = []
    const result = await runPluginMigrations(storage, 'lights', {
      version: 5,
      migrations: {
        4: async () => void order.push(4),
        2: async () => void order.push(2),
        1: async () => void order.push(1),
      },
    })
    expect(order).toEqual([1, 2, 4])
    expect(result).toEqual({ namespace: 'lights', from: 0, to: 5, applied: [1, 2, 4] })
    expect(await storage.schemaVersion('lights')).toBe(5)
  })

  it('records version 0 as nothing to do and opens no transaction', async () => {
    const adapter = createMemoryAdapter()
    let transactions = 0
    const counting: StorageAdapter = {
      ...adapter,
      transaction: (fn) => {
        transactions++
        return adapter.transaction(fn)
      },
    }
    const storage = createStorage(counting)
    expect(await runPluginMigrations(storage, 'lights', { version: 0 })).toEqual({
      namespace: 'lights',
      from: 0,
      to: 0,
      applied: [],
    })
    expect(transactions).toBe(0)
  })

  it('gives each step a transaction bound to the plugin namespace only', async () => {
    const storage = createStorage(createMemoryAdapter())
    await runPluginMigrations(storage, 'lights', {
      version: 1,
      migrations: {
        1: async (tx) => {
          expect(tx.namespace).toBe('lights')
          await tx.set('k', 'v')
        },
      },
    })
    expect(await storage.get('lights', 'k')).toBe('v')
  })

  it('refuses a bad version, namespace or migrations object with E_VALIDATION', async () => {
    const storage = createStorage(createMemoryAdapter())
    const bad: [string, unknown][] = [
      ['lights', { version: -1 }],
      ['lights', { version: 1.5 }],
      ['lights', { version: '2' }],
      ['lights', { version: 1, migrations: { 2: async () => undefined } }],
      ['lights', { version: 1, migrations: { 0: async () => undefined } }],
      ['lights', { version: 1, migrations: { one: async () => undefined } }],
      ['lights', { version: 1, migrations: { 1: 'not a function' } }],
      ['lights', { version: 1, migrations: [] }],
      ['../x', { version: 1 }],
    ]
    for (const [ns, options] of bad) {
      expect((await rejection(() => runPluginMigrations(storage, ns, options as never))).code).toBe(
        'E_VALIDATION',
      )
    }
    expect(await storage.schemaVersion('lights')).toBe(0)
  })

  it('joins a larger transaction when given a transaction handle', async () => {
    const storage = createStorage(createMemoryAdapter())
    await storage
      .transaction(async (tx) => {
        await runPluginMigrations(tx, 'lights', {
          version: 1,
          migrations: { 1: async (t) => t.set('k', 1) },
        })
        throw new Error('outer fails')
      })
      .catch(() => undefined)
    expect(await storage.schemaVersion('lights')).toBe(0)
    expect(await storage.has('lights', 'k')).toBe(false)
  })

  it('wraps a failing step as E_STORAGE naming the plugin, the version and the cause', async () => {
    const storage = createStorage(createMemoryAdapter())
    const cause = new Error('bad data')
    const err = await rejection(() =>
      runPluginMigrations(storage, 'lights', {
        version: 2,
        migrations: { 2: async () => Promise.reject(cause) },
      }),
    )
    expect(err.code).toBe('E_STORAGE')
    expect(err.message).toContain('"lights"')
    expect(err.message).toContain('version 2')
    expect(err.cause).toBe(cause)
    expect(err.details).toMatchObject({ namespace: 'lights', from: 0, to: 2 })
  })
})
