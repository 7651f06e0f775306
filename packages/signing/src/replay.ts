import type { ReplayStore } from './types.js'

/** Options of {@link createMemoryReplayStore}. @public */
export interface MemoryReplayStoreOptions {
  /**
   * The most pairs kept. When full, the oldest are forgotten first (and counted in
   * `evicted`); size it to the message rate × 2 × window. @defaultValue 1_000_000
   */
  maxEntries?: number
  /** The clock, in epoch ms. @defaultValue `Date.now` */
  now?: () => number
}

/** A {@link ReplayStore} in this process's memory, with its eviction count. @public */
export interface MemoryReplayStore extends ReplayStore {
  /** Pairs currently remembered. */
  readonly size: number
  /** Pairs forgotten before their time because the store was full. */
  readonly evicted: number
}

/**
 * A replay store in memory: one hub catches a message replayed to itself. Pairs are forgotten
 * after their TTL (swept as new pairs arrive) or, when `maxEntries` is reached, oldest first.
 * @public
 */
export function createMemoryReplayStore(options: MemoryReplayStoreOptions = {}): MemoryReplayStore {
  const maxEntries = options.maxEntries ?? 1_000_000
  const now = options.now ?? Date.now
  // Insertion order is arrival order; with one TTL per verifier it is also expiry order.
  const seen = new Map<string, number>()
  let evicted = 0
  const sweep = (at: number): void => {
    for (const [key, expiresAt] of seen) {
      if (expiresAt > at) break
      seen.delete(key)
    }
  }
  return {
    get size() {
      return seen.size
    },
    get evicted() {
      return evicted
    },
    async remember(source, id, ttlMs) {
      const at = now()
      sweep(at)
      const key = `${source}\u0000${id}`
      const known = seen.get(key)
      if (known !== undefined && known > at) return true
      if (known !== undefined) seen.delete(key)
      while (seen.size >= maxEntries) {
        const oldest = seen.keys().next().value as string
        seen.delete(oldest)
        evicted++
      }
      seen.set(key, at + ttlMs)
      return false
    },
    close() {
      seen.clear()
    },
  }
}

/**
 * The part of an ioredis client {@link createRedisReplayStore} uses: `SET key value PX ms NX`.
 * @public
 */
export interface RedisSetNx {
  set(key: string, value: string, px: 'PX', ttlMs: number, nx: 'NX'): Promise<string | null>
}

/** Options of {@link createRedisReplayStore}. @public */
export interface RedisReplayStoreOptions {
  /** An ioredis client (or anything with the same `set`). */
  redis: RedisSetNx
  /** Prefix of the keys written. @defaultValue `core:replay:` */
  keyPrefix?: string
}

/**
 * A replay store on Redis shared by every hub: one `SET <prefix><source>\0<id> 1 PX ttl NX` per
 * message, so of any number of hubs receiving one message, exactly one accepts it. A Redis error
 * propagates (the verifier then refuses nothing and accepts nothing: the caller sees it).
 * @see Redis `SET` with `NX` and `PX`
 * @public
 */
export function createRedisReplayStore(options: RedisReplayStoreOptions): ReplayStore {
  const prefix = options.keyPrefix ?? 'core:replay:'
  return {
    async remember(source, id, ttlMs) {
      const ok = await options.redis.set(
        `${prefix}${source}\u0000${id}`,
        '1',
        'PX',
        Math.max(1, Math.ceil(ttlMs)),
        'NX',
      )
      return ok === null
    },
  }
}
