import type { Clock, Logger } from '@core/contracts'
import type { StateBackend } from '@core/state-engine'
import type { RedisConnectionOptions } from './connection.js'
import type { RedisMetrics } from './metrics.js'

/** Options of {@link createRedisStateBackend}. @public */
export type RedisStateBackendOptions = RedisConnectionOptions & {
  /**
   * Prefix of every Redis key this backend reads or writes; keys outside it are never touched.
   * Hubs that share state use the same prefix. @defaultValue 'core:'
   */
  keyPrefix?: string
  /**
   * Approximate length the change stream is trimmed to (`XADD … MAXLEN ~ n`): how far a hub
   * that was disconnected can catch up. @defaultValue 100_000
   */
  streamMaxLen?: number
  /**
   * How often this backend looks for due TTLs of any hub's keys (the sweeper), in ms; `0` turns
   * it off (the engine's own timer still expires the keys this engine set). Runs only while an
   * engine is attached. @defaultValue 500
   */
  sweepIntervalMs?: number
  /**
   * Extra time Redis keeps an entry past its `expiresAt` (its `PX`), in ms: the sweeper reports
   * the expiry long before; this only clears entries no hub is left to sweep.
   * @defaultValue 600_000
   */
  expiryGraceMs?: number
  /** How long one blocking stream read waits, in ms. @defaultValue 1_000 */
  blockMs?: number
  /**
   * How long the stream reader pauses after a read that returned only this backend's own
   * changes (which reach the engine from the write replies already), in ms, so that a hub
   * writing alone does not wake its reader once per write. A change of another hub written
   * during the pause reaches this hub up to this much later (changes of other hubs that keep
   * coming are read without pauses). `0` reads again at once.
   * @defaultValue 10
   */
  ownReadPauseMs?: number
  /** Time source of the sweeper (the engine passes its own `now` to every write). @defaultValue systemClock */
  clock?: Clock
  /** Where stream and sweeper failures are logged. @defaultValue a stderr logger (warn+) */
  logger?: Logger
}

/** What {@link RedisStateBackend.status} reports. @public */
export interface RedisStateBackendStatus {
  /** Whether the command connection is ready now. */
  connected: boolean
  /** ioredis' connection status: `ready`, `connecting`, `reconnect`, `end`, … */
  status: string
  /** The last stream id this backend has read, `''` before the first read. */
  streamId: string
  /** Times the stream had been trimmed past this backend's position (keys were re-read). */
  gaps: number
}

/**
 * A {@link @core/state-engine!StateBackend} on Redis, shared by every engine (hub) that uses the same Redis and
 * key prefix. Made by {@link createRedisStateBackend}.
 * @public
 */
export interface RedisStateBackend extends StateBackend {
  /** This backend's writer id: the `o` field of its stream entries. */
  readonly id: string
  /** Its Prometheus metrics (unregistered until you `register` them). */
  readonly metrics: RedisMetrics
  /**
   * Resolves once the connection is ready, or rejects with `E_UNAVAILABLE` after `timeoutMs`
   * (the backend keeps reconnecting in the background either way).
   * @param timeoutMs - How long to wait, ms. @defaultValue 5_000
   */
  ready(timeoutMs?: number): Promise<void>
  /** The connection's state, for a health check. */
  status(): RedisStateBackendStatus
  /**
   * Stops the stream reader and the sweeper and closes the connections this backend opened (a
   * `client` passed in stays open; only its duplicate for blocking reads is closed). Idempotent.
   */
  close(): Promise<void>
}
