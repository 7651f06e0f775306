import { CoreError } from '@core/contracts'
import { describe, expect, it } from 'vitest'
import * as api from '../src/index.js'
import { createMemoryAdapter, createStorage, type StorageAdapter } from '../src/index.js'

async function rejection(run: () => Promise<unknown>): Promise<CoreError> {
  const error = await run().then(
    () => undefined,
    (e: unknown) => e,
  )
  if (!CoreError.is(error)) throw new Error(`expected a CoreError, got ${String(error)}`)
  return error
}

/** A memory adapter whose `set` fails with a driver-like error for one key. */
function flaky(failKey: string): StorageAdapter {
  const inner = createMemoryAdapter()
  const driverError = Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR' })
  const wrap = <T extends Pick<StorageAdapter, 'set' | 'transaction'>>(ops: T): T => ({
    ...ops,
    set: (ns: string, key: string, json: string) =>
      key === failKey ? Promise.reject(driverError) : ops.set(ns, key, json),
    transaction: <R>(fn: (tx: never) => Promise<R>) =>
      ops.transaction((tx) => fn(wrap(tx) as never)),
  })
  return Object.assign(Object.create(null), inner, wrap(inner)) as StorageAdapter
}

describe('createStorage', () => {
  it('exports exactly the documented API', () => {
    expect(Object.keys(api).sort()).toMatchInlineSnapshot(`
      [
        "DEFAULT_MAX_VALUE_BYTES",
        "FifoLock",
        "MAX_KEY_LENGTH",
        "MAX_LIMIT",
        "assertStorageKey",
        "compareKeys",
        "createMemoryAdapter",
        "createStorage",
        "createStorageMetrics",
        "prefixEnd",
        "runPluginMigrations",
      ]
    `)
  })

  it('refuses a maxValueBytes that is not a positive integer', () => {
    for (const maxValueBytes of [0, -1, 1.5, Number.NaN]) {
      expect(() => createStorage(createMemoryAdapter(), { maxValueBytes })).toThrow(/maxValueBytes/)
    }
  })

  it('applies a configured maxValueBytes in bytes of JSON text', async () => {
    const storage = createStorage(createMemoryAdapter(), { maxValueBytes: 10 })
    expect(storage.maxValueBytes).toBe(10)
    await storage.set('app', 'k', '12345678') // 10 bytes with quotes
    const err = await rejection(() => storage.set('app', 'k', '123456789'))
    expect(err.code).toBe('E_VALIDATION')
    expect(err.details).toMatchObject({ bytes: 11, maxBytes: 10 })
  })

  it('wraps a driver error as E_STORAGE with the error as cause', async () => {
    const storage = createStorage(flaky('bad'))
    const err = await rejection(() => storage.set('app', 'bad', 1))
    expect(err.code).toBe('E_STORAGE')
    expect(err.message).toContain('"app"/"bad"')
    expect(err.message).toContain('disk I/O error')
    expect((err.cause as { code: string }).code).toBe('SQLITE_IOERR')
  })

  it('rolls back a transaction whose operation failed, even when the function caught the error', async () => {
    const storage = createStorage(flaky('bad'))
    const err = await rejection(() =>
      storage.transaction(async (tx) => {
        await tx.set('app', 'good', 1)
        await tx.set('app', 'bad', 1).catch(() => undefined)
        const refused = await rejection(() => tx.set('app', 'after', 1))
        expect(refused.code).toBe('E_CONFLICT')
        return 'pretend all went well'
      }),
    )
    expect(err.code).toBe('E_STORAGE')
    expect(await storage.count('app')).toBe(0)
  })

  it('lets a nested transaction absorb its own failed operation', async () => {
    const storage = createStorage(flaky('bad'))
    await storage.transaction(async (tx) => {
      await tx.set('app', 'outer', 1)
      await tx
        .transaction(async (inner) => {
          await inner.set('app', 'bad', 1)
        })
        .catch(() => undefined)
      await tx.set('app', 'after', 1)
    })
    expect((await storage.list('app')).items.map((e) => e.key)).toEqual(['after', 'outer'])
  })

  it('hands a namespace-bound view of a transaction to forNamespace', async () => {
    const storage = createStorage(createMemoryAdapter())
    await storage
      .transaction(async (tx) => {
        await tx.forNamespace('lights').set('k', 1)
        throw new Error('undo')
      })
      .catch(() => undefined)
    expect(await storage.has('lights', 'k')).toBe(false)
    expect(() => storage.forNamespace('Bad Name')).toThrow(CoreError)
  })

  it('passes the cursor as an opaque string that encodes the last key', async () => {
    const storage = createStorage(createMemoryAdapter())
    await storage.batch('app', [
      { op: 'set', key: 'a', value: 1 },
      { op: 'set', key: 'b', value: 2 },
    ])
    const page = await storage.list('app', { limit: 1 })
    expect(page.cursor).toMatch(/^k1\.[A-Za-z0-9_-]+$/)
    expect(page.cursor).not.toContain('a')
  })
})
