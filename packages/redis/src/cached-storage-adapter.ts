import { randomUUID } from 'node:crypto'
import { CoreError, createStderrLogger, type Logger } from '@core/contracts'
import type {
  AdapterBatchOp,
  StorageAdapter,
  StorageAdapterOps,
  StorageAdapterTransaction,
} from '@core/storage'
import type { Redis } from 'ioredis'
import { connect, type RedisConnectionOptions, redisError } from './connection.js'
import type { RedisMetrics, RedisMetricsRecorder } from './metrics.js'

/** Options of {@link createCachedStorageAdapter}. @public */
export interface CachedStorageAdapterOptions {
  /** Redis: a URL (`redis://host:6379`) or an ioredis client (left open by `close()`). */
  redis: string | Redis
  /** How long a cached document lives, ms (a safety net; writes invalidate at once). @defaultValue 60_000 */
  ttlMs?: number
  /**
   * Prefix of the cache's Redis keys (`<prefix>cache:<namespace>:<key>`). Hubs that share one
   * database share one prefix; hubs on different databases must not. @defaultValue 'core:'
   */
  keyPrefix?: string
  /** Record round trips into these metrics (e.g. the state backend's `metrics`). */
  metrics?: RedisMetrics
  /** Where failed invalidations are logged. @defaultValue a stderr logger (warn+) */
  logger?: Logger
  /** How long the factory waits for Redis to answer, ms. @defaultValue 5_000 */
  connectTimeoutMs?: number
}

/** A cached present document starts with this; an absent one is exactly {@link ABSENT}. */
const PRESENT = 'j'
const ABSENT = 'n'
/** A fill lease: `l<token>`, set with NX on a miss and replaced by the value if still held. */
const LEASE = 'l'
const LEASE_MS = 5_000

const FILL_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
end
return false
`

interface ScriptedRedis extends Redis {
  coreCacheFill(key: string, lease: string, value: string, ttlMs: number): Promise<unknown>
}

/**
 * Puts a Redis read cache in front of a storage adapter: point reads (`get`, `has`) are served
 * from Redis; `list`, `count`, `query` and schema versions go to the adapter.
 *
 * **Freshness.** Every `set`, `delete` and `batch`, and every committed transaction, deletes
 * the cache entries of the keys it wrote before it resolves, so after a write resolves no hub
 * sharing the Redis is served the older value: the cache lives in Redis itself, so the `DEL` is
 * the invalidation for every hub at once. A miss fills the cache through a lease (`SET NX` of a
 * token, then a script that stores the value only if the token is still there), so a reader
 * that read the database before a concurrent write cannot put the old value back after that
 * write's `DEL`. Writes made to the database by something else than a cached adapter are seen
 * after `ttlMs` at the latest.
 *
 * **Redis down.** Reads fall back to the adapter. Writes are refused with `E_UNAVAILABLE`
 * before they reach the database (they could not be invalidated); a write whose invalidation
 * fails after its commit rejects with `E_UNAVAILABLE` saying that it was committed.
 *
 * @param adapter - The adapter to cache (SQLite, PostgreSQL, …); `close()` closes it.
 * @param options - `redis` (URL or ioredis client), `ttlMs`, `keyPrefix`, `metrics`, `logger`.
 * @returns A promise of a {@link StorageAdapter} to pass to `createStorage()`, named
 *   `<adapter>+redis`. It resolves once Redis answers, or after `connectTimeoutMs` (then reads
 *   go to the adapter and writes are refused until Redis is reachable).
 * @throws {@link @core/contracts!CoreError} `E_VALIDATION` for a bad `redis`, `ttlMs` or `keyPrefix`. Its
 *   operations reject as the adapter's do, and with `E_UNAVAILABLE` as said above.
 * @see Redis `SET NX PX`; the lease idea of "Scaling Memcache at Facebook" (NSDI 2013)
 * @example
 * ```ts
 * import { createCachedStorageAdapter } from '@core/redis'
 * import { createStorage } from '@core/storage'
 * import { createPostgresAdapter } from '@core/storage-postgres'
 *
 * const adapter = await createPostgresAdapter({ url: 'postgres://postgres@127.0.0.1:5432/test' })
 * const storage = createStorage(
 *   await createCachedStorageAdapter(adapter, { redis: 'redis://127.0.0.1:6379', ttlMs: 30_000 }),
 * )
 * ```
 * @public
 */
export async function createCachedStorageAdapter(
  adapter: StorageAdapter,
  options: CachedStorageAdapterOptions,
): Promise<StorageAdapter> {
  const ttlMs = options?.ttlMs ?? 60_000
  if (!Number.isSafeInteger(ttlMs) || ttlMs < 1) {
    throw new CoreError(
      'E_VALIDATION',
      'ttlMs must be a whole number of milliseconds, at least 1',
      {
        details: { option: 'ttlMs', value: ttlMs },
      },
    )
  }
  const keyPrefix = options.keyPrefix ?? 'core:'
  if (typeof keyPrefix !== 'string' || keyPrefix === '') {
    throw new CoreError('E_VALIDATION', 'keyPrefix must be a non-empty string, such as "core:"', {
      details: { option: 'keyPrefix' },
    })
  }
  const connection: RedisConnectionOptions =
    typeof options.redis === 'string' ? { url: options.redis } : { client: options.redis }
  const { client, owned } = connect(connection, 'createCachedStorageAdapter')
  const redis = client as ScriptedRedis
  redis.defineCommand('coreCacheFill', { numberOfKeys: 1, lua: FILL_SCRIPT })
  const metrics = options.metrics as RedisMetricsRecorder | undefined
  const logger = options.logger ?? createStderrLogger({ component: 'redis-cache' })
  const cacheKey = (namespace: string, key: string): string =>
    `${keyPrefix}cache:${namespace}:${key}`
  let closed = false
  if (client.status !== 'ready') {
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer)
        client.off('ready', done)
        resolve()
      }
      const timer = setTimeout(done, options.connectTimeoutMs ?? 5_000)
      client.once('ready', done)
    })
  }

  const open = (what: string): void => {
    if (closed) {
      throw new CoreError('E_STORAGE', `The cached storage adapter is closed; cannot ${what}`)
    }
  }

  const timed = async <R>(op: string, work: () => Promise<R>): Promise<R> => {
    const done = metrics?.time(op)
    try {
      const result = await work()
      done?.()
      return result
    } catch (error) {
      done?.('E_UNAVAILABLE')
      throw error
    }
  }

  /** The document through the cache; the adapter when Redis cannot answer. */
  const read = async (namespace: string, key: string): Promise<string | undefined> => {
    const k = cacheKey(namespace, key)
    let lease: string | undefined
    try {
      const cached = await timed('cache.get', () => client.get(k))
      if (cached?.startsWith(PRESENT)) return cached.slice(PRESENT.length)
      if (cached === ABSENT) return undefined
      if (cached === null) {
        const token = `${LEASE}${randomUUID()}`
        const taken = await timed('cache.lease', () => client.set(k, token, 'PX', LEASE_MS, 'NX'))
        if (taken === 'OK') lease = token
      }
    } catch {
      // Redis is down: the adapter answers, and nothing is filled.
    }
    const json = await adapter.get(namespace, key)
    if (lease !== undefined) {
      const value = json === undefined ? ABSENT : `${PRESENT}${json}`
      await timed('cache.fill', () => redis.coreCacheFill(k, lease, value, ttlMs)).catch(() => {})
    }
    return json
  }

  /** Refuses a write while Redis cannot be reached: it could not be invalidated. */
  const writable = (namespace: string, what: string): void => {
    open(what)
    if (client.status !== 'ready') {
      throw redisError(
        new Error('the cache connection is not ready'),
        client,
        `${what} in namespace "${namespace}" (nothing was written)`,
      )
    }
  }

  /** Deletes the cache entries of keys a committed write touched. */
  const invalidate = async (namespace: string, keys: Iterable<string>): Promise<void> => {
    const all = [...new Set(keys)].map((key) => cacheKey(namespace, key))
    if (all.length === 0) return
    try {
      await timed('cache.invalidate', () => client.del(...all))
    } catch (error) {
      logger.error({ err: error, namespace }, 'redis cache: invalidating after a write failed')
      throw new CoreError(
        'E_UNAVAILABLE',
        `The write to namespace "${namespace}" was committed, but Redis could not drop its cached copy; other readers may see the old value for up to ${ttlMs} ms`,
        { cause: error, details: { namespace } },
      )
    }
  }

  /** Wraps a transaction handle so that the keys it writes are recorded in `touched`. */
  const tracked = (
    tx: StorageAdapterTransaction,
    touched: Map<string, Set<string>>,
  ): StorageAdapterTransaction => {
    const touch = (namespace: string, keys: Iterable<string>): void => {
      let set = touched.get(namespace)
      if (set === undefined) {
        set = new Set()
        touched.set(namespace, set)
      }
      for (const key of keys) set.add(key)
    }
    return {
      get: (namespace, key) => tx.get(namespace, key),
      has: (namespace, key) => tx.has(namespace, key),
      count: (namespace, prefix) => tx.count(namespace, prefix),
      list: (namespace, listOptions) => tx.list(namespace, listOptions),
      query: (namespace, query) => tx.query(namespace, query),
      getSchemaVersion: (namespace) => tx.getSchemaVersion(namespace),
      setSchemaVersion: (namespace, version) => tx.setSchemaVersion(namespace, version),
      set(namespace, key, json) {
        touch(namespace, [key])
        return tx.set(namespace, key, json)
      },
      delete(namespace, key) {
        touch(namespace, [key])
        return tx.delete(namespace, key)
      },
      batch(namespace, ops) {
        touch(
          namespace,
          ops.map((op) => op.key),
        )
        return tx.batch(namespace, ops)
      },
      transaction: (fn) => tx.transaction((inner) => fn(tracked(inner, touched))),
    }
  }

  const ops: StorageAdapterOps = {
    async get(namespace, key) {
      open(`read "${key}"`)
      return read(namespace, key)
    },
    async has(namespace, key) {
      open(`read "${key}"`)
      return (await read(namespace, key)) !== undefined
    },
    count: (namespace, prefix) => adapter.count(namespace, prefix),
    list: (namespace, listOptions) => adapter.list(namespace, listOptions),
    query: (namespace, query) => adapter.query(namespace, query),
    getSchemaVersion: (namespace) => adapter.getSchemaVersion(namespace),
    setSchemaVersion: (namespace, version) => adapter.setSchemaVersion(namespace, version),
    async set(namespace, key, json) {
      writable(namespace, `write "${key}"`)
      await adapter.set(namespace, key, json)
      await invalidate(namespace, [key])
    },
    async delete(namespace, key) {
      writable(namespace, `delete "${key}"`)
      const existed = await adapter.delete(namespace, key)
      await invalidate(namespace, [key])
      return existed
    },
    async batch(namespace, batchOps: AdapterBatchOp[]) {
      writable(namespace, 'write a batch')
      await adapter.batch(namespace, batchOps)
      await invalidate(
        namespace,
        batchOps.map((op) => op.key),
      )
    },
    async transaction(fn) {
      open('open a transaction')
      const touched = new Map<string, Set<string>>()
      const result = await adapter.transaction((tx) => fn(tracked(tx, touched)))
      for (const [namespace, keys] of touched) await invalidate(namespace, keys)
      return result
    },
  }

  return {
    name: `${adapter.name}+redis`,
    ...ops,
    async close() {
      if (closed) return
      closed = true
      await adapter.close()
      if (owned) await client.quit().catch(() => client.disconnect())
    },
  }
}
