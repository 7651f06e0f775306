import { CoreError } from '@core/contracts'
import { Redis, type RedisOptions } from 'ioredis'

/**
 * How to reach Redis: a URL (a connection of the package's own, closed by its owner's
 * `close()`), or a ready ioredis client (left open: its owner closes it).
 * @public
 */
export type RedisConnectionOptions =
  | {
      /** `redis://[user:password@]host:port[/db]`, or `rediss://` for TLS. */
      url: string
      client?: undefined
    }
  | {
      /**
       * An ioredis client of the caller's. Create it with `enableOfflineQueue: false` for
       * calls to fail fast while Redis is down (as {@link REDIS_CLIENT_DEFAULTS}).
       */
      client: Redis
      url?: undefined
    }

/**
 * The ioredis options of the connections this package opens from a URL:
 * - `enableOfflineQueue: false`: while Redis is down a command fails at once (`E_UNAVAILABLE`)
 *   instead of waiting in an unbounded queue.
 * - `maxRetriesPerRequest: 0` and `autoResendUnfulfilledCommands: false`: a command in flight
 *   when the connection drops fails; it is never sent again by itself, so a write is never
 *   applied twice.
 * - A reconnect every 50-1,000 ms for ever, `connectTimeout` 2,000 ms, TCP_NODELAY on.
 * @public
 */
export const REDIS_CLIENT_DEFAULTS: RedisOptions = Object.freeze({
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  autoResendUnfulfilledCommands: false,
  connectTimeout: 2_000,
  noDelay: true,
  retryStrategy: (times: number): number => Math.min(50 * times, 1_000),
})

/** A connection and whether this package owns it (closes it). @internal */
export interface Connection {
  readonly client: Redis
  readonly owned: boolean
}

/** Opens (or adopts) the connection the options name. @internal */
export function connect(options: RedisConnectionOptions, what: string): Connection {
  if (options?.client !== undefined) {
    if (typeof options.client.duplicate !== 'function') {
      throw new CoreError('E_VALIDATION', `${what} needs { client } to be an ioredis client`, {
        details: { option: 'client' },
      })
    }
    return { client: options.client, owned: false }
  }
  if (typeof options?.url !== 'string' || !/^rediss?:\/\//.test(options.url)) {
    throw new CoreError(
      'E_VALIDATION',
      `${what} needs { url: 'redis://host:6379' } or { client }: an ioredis client`,
      { details: { option: 'url' } },
    )
  }
  const client = new Redis(options.url, { ...REDIS_CLIENT_DEFAULTS })
  // Connection errors are reported through calls and health; an unhandled 'error' would crash.
  client.on('error', () => {})
  return { client, owned: true }
}

/** A second connection like `client`, for blocking reads (`XREAD BLOCK`). @internal */
export function duplicate(client: Redis, connectionName: string): Redis {
  // One blocking command at a time: nothing to pipeline.
  const copy = client.duplicate({ connectionName, enableAutoPipelining: false })
  copy.on('error', () => {})
  return copy
}

/**
 * Maps an ioredis failure to a CoreError: `E_UNAVAILABLE` when Redis cannot be reached (the
 * connection is not ready or dropped), otherwise `E_STORAGE` naming what failed.
 * @internal
 */
export function redisError(error: unknown, client: Redis, doing: string): CoreError {
  if (CoreError.is(error)) return error
  const reason = error instanceof Error ? error.message : String(error)
  const notEntry = /CORE_NOT_ENTRY (\S+)/.exec(reason)
  if (notEntry !== null) {
    return new CoreError(
      'E_STORAGE',
      `Redis key "${notEntry[1]}" is not a state entry (a hash with fields v, r, u) while trying to ${doing}; something else wrote under the prefix: delete the key or choose another keyPrefix`,
      { cause: error, details: { redisKey: notEntry[1] } },
    )
  }
  if (client.status !== 'ready' || isConnectionError(reason)) {
    return new CoreError(
      'E_UNAVAILABLE',
      `Redis is unreachable (${client.status}), could not ${doing}: ${reason}. Retry when Redis is back; the connection reconnects by itself`,
      { cause: error },
    )
  }
  return new CoreError('E_STORAGE', `Redis failed to ${doing}: ${reason}`, { cause: error })
}

function isConnectionError(reason: string): boolean {
  return /enableOfflineQueue|Connection is closed|ECONNREFUSED|ECONNRESET|EPIPE|max retries|Stream isn't writeable|LOADING/i.test(
    reason,
  )
}
