import type { CoreError } from '@core/contracts'
import { createMemoryAdapter, type StorageAdapter } from '@core/storage'
import { Redis } from 'ioredis'
import { afterEach, expect, it, vi } from 'vitest'
import { createCachedStorageAdapter } from '../src/index.js'
import {
  adminRedis,
  describeWithRedis,
  freshPrefix,
  type PrivateRedis,
  startPrivateRedis,
  TEST_REDIS_URL,
} from './redis-server.js'

const opened: StorageAdapter[] = []
const servers: PrivateRedis[] = []

afterEach(async () => {
  for (const adapter of opened.splice(0)) await adapter.close()
  for (const server of servers.splice(0)) await server.destroy()
})

/** One database, as two hubs see it: `close()` of a hub's view leaves it open. */
function shared(database: StorageAdapter): StorageAdapter {
  return { ...database, name: database.name, close: async () => {} }
}

async function cached(
  database: StorageAdapter,
  keyPrefix: string,
  url = TEST_REDIS_URL,
): Promise<StorageAdapter> {
  const adapter = await createCachedStorageAdapter(shared(database), { redis: url, keyPrefix })
  opened.push(adapter)
  return adapter
}

describeWithRedis('createCachedStorageAdapter', () => {
  it('serves point reads from Redis once filled', async () => {
    const database = createMemoryAdapter()
    const prefix = freshPrefix()
    const hub = await cached(database, prefix)
    await hub.set('app', 'k', '{"v":1}')
    expect(await hub.get('app', 'k')).toBe('{"v":1}')
    expect(await adminRedis().get(`${prefix}cache:app:k`)).toBe('j{"v":1}')
    // Changed behind the cache's back: the cached copy is what is served.
    await database.set('app', 'k', '{"v":2}')
    expect(await hub.get('app', 'k')).toBe('{"v":1}')
    expect(await hub.has('app', 'absent')).toBe(false)
    expect(await adminRedis().get(`${prefix}cache:app:absent`)).toBe('n')
  })

  it('never serves a value older than a write made through another hub', async () => {
    const database = createMemoryAdapter()
    const prefix = freshPrefix()
    const a = await cached(database, prefix)
    const b = await cached(database, prefix)
    await a.set('app', 'k', '1')
    await a.set('app', 'j', '1')
    expect(await a.get('app', 'k')).toBe('1')
    await b.set('app', 'k', '2')
    expect(await a.get('app', 'k')).toBe('2')
    await b.delete('app', 'k')
    expect(await a.get('app', 'k')).toBeUndefined()
    await b.batch('app', [
      { op: 'set', key: 'k', json: '3' },
      { op: 'delete', key: 'j' },
    ])
    expect(await a.get('app', 'k')).toBe('3')
    expect(await a.has('app', 'j')).toBe(false)
    await b.transaction(async (tx) => {
      await tx.set('app', 'k', '4')
      await tx.transaction(async (inner) => inner.set('app', 'j', '4'))
    })
    expect([await a.get('app', 'k'), await a.get('app', 'j')]).toEqual(['4', '4'])
  })

  it('leaves the cache alone when a transaction rolls back', async () => {
    const database = createMemoryAdapter()
    const hub = await cached(database, freshPrefix())
    await hub.set('app', 'k', '1')
    expect(await hub.get('app', 'k')).toBe('1')
    const failure = new Error('no')
    await expect(
      hub.transaction(async (tx) => {
        await tx.set('app', 'k', '2')
        throw failure
      }),
    ).rejects.toBe(failure)
    expect(await hub.get('app', 'k')).toBe('1')
  })

  it('does not let a fill that read before a write put the old value back', async () => {
    const database = createMemoryAdapter()
    const prefix = freshPrefix()
    await database.set('app', 'k', '"old"')
    let release: () => void = () => {}
    let reading: () => void = () => {}
    const started = new Promise<void>((resolve) => {
      reading = resolve
    })
    const slow: StorageAdapter = {
      ...shared(database),
      get: async (namespace, key) => {
        const json = await database.get(namespace, key)
        reading()
        await new Promise<void>((resolve) => {
          release = resolve
        })
        return json
      },
    }
    const a = await createCachedStorageAdapter(slow, { redis: TEST_REDIS_URL, keyPrefix: prefix })
    opened.push(a)
    const b = await cached(database, prefix)
    const read = a.get('app', 'k')
    await started
    await b.set('app', 'k', '"new"')
    release()
    expect(await read).toBe('"old"')
    expect(await adminRedis().get(`${prefix}cache:app:k`)).toBeNull()
    expect(await b.get('app', 'k')).toBe('"new"')
  })

  it('reads from the database and refuses writes while Redis is down', async () => {
    const server = await startPrivateRedis()
    servers.push(server)
    const database = createMemoryAdapter()
    const client = new Redis(server.url, { enableOfflineQueue: false, maxRetriesPerRequest: 0 })
    client.on('error', () => {})
    const hub = await createCachedStorageAdapter(shared(database), { redis: client })
    opened.push(hub)
    await hub.set('app', 'k', '1')
    expect(await hub.get('app', 'k')).toBe('1')
    await server.kill()
    // Until the client sees the socket close, a write still commits and then reports that its
    // invalidation failed (documented): the refusal below needs the client to know.
    await vi.waitFor(() => expect(client.status).not.toBe('ready'), { timeout: 10_000 })
    await database.set('app', 'k', '2')
    expect(await hub.get('app', 'k')).toBe('2')
    const refused = await hub.set('app', 'k', '3').catch((error: CoreError) => error)
    expect(refused).toMatchObject({ code: 'E_UNAVAILABLE' })
    expect(await database.get('app', 'k')).toBe('2')
    client.disconnect()
  })
})
