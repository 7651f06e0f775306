import { CoreError } from '@core/contracts'
import Type, { type Static } from 'typebox'

/** The key prefix of the hub's Redis keys when the config names none. */
export const DEFAULT_REDIS_KEY_PREFIX = 'core:'
/** How long a cached storage document lives in Redis by default, ms. */
export const DEFAULT_REDIS_CACHE_TTL_MS = 60_000
/** How long the boot waits for Redis before going on without it (degraded), ms. */
export const DEFAULT_REDIS_START_WAIT_MS = 2_000

/** `redis://` or `rediss://` (TLS). */
export const REDIS_URL_PATTERN = '^rediss?://'

/** The `redis` section of the hub config file. */
export const RedisConfigSchema = Type.Object(
  {
    url: Type.Optional(
      Type.String({
        pattern: REDIS_URL_PATTERN,
        description:
          'redis://[user:password@]host:port[/db]: keep the state in Redis, shared by every hub using it. Env CORE_REDIS_URL',
      }),
    ),
    keyPrefix: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 64,
        description:
          'Prefix of every Redis key of the hub; hubs sharing state share it. Default core:',
      }),
    ),
    storageCache: Type.Optional(
      Type.Boolean({
        description:
          'Serve storage point reads from a Redis cache, invalidated on every write. Env CORE_STORAGE_CACHE=redis. Default false',
      }),
    ),
    cacheTtlMs: Type.Optional(
      Type.Integer({ minimum: 1, description: 'Lifetime of a cached document, ms. Default 60000' }),
    ),
    startWaitMs: Type.Optional(
      Type.Integer({
        minimum: 0,
        description:
          'How long the boot waits for Redis before going on without it (health degraded), ms. Default 2000',
      }),
    ),
  },
  { additionalProperties: false, description: 'Redis: shared state and a storage read cache' },
)
export type RedisConfigFile = Static<typeof RedisConfigSchema>

/** The Redis settings, resolved; the hub uses Redis only when a URL is set. */
export interface RedisSettings {
  url: string
  keyPrefix: string
  /** Put the Redis read cache in front of the storage. */
  storageCache: boolean
  cacheTtlMs: number
  startWaitMs: number
}

/** The environment variables of this section. */
export const REDIS_ENV = ['CORE_REDIS_URL', 'CORE_STORAGE_CACHE'] as const

/** Their schema, merged into the hub's environment schema. */
export const RedisEnvSchema = {
  CORE_REDIS_URL: Type.Optional(Type.String({ pattern: REDIS_URL_PATTERN })),
  CORE_STORAGE_CACHE: Type.Optional(Type.Enum(['redis', 'off'])),
}

/** Messages for a bad value of one of them. */
export const REDIS_ENV_MESSAGES: Record<string, string> = {
  CORE_REDIS_URL: 'must start with redis:// or rediss://',
  CORE_STORAGE_CACHE: 'must be redis (cache storage reads in Redis) or off',
}

/**
 * Resolves the `redis` section and its environment overrides (`CORE_REDIS_URL` over
 * `redis.url`, `CORE_STORAGE_CACHE=redis|off` over `redis.storageCache`).
 * @returns The settings, or `undefined` when no Redis URL is set (state in memory).
 * @throws {@link @core/contracts!CoreError} `E_VALIDATION` when the storage cache is asked for without a URL.
 */
export function resolveRedisSettings(
  file: RedisConfigFile | undefined,
  env: { CORE_REDIS_URL?: string | undefined; CORE_STORAGE_CACHE?: string | undefined },
): RedisSettings | undefined {
  const url = env.CORE_REDIS_URL ?? file?.url
  const storageCache =
    env.CORE_STORAGE_CACHE === undefined
      ? (file?.storageCache ?? false)
      : env.CORE_STORAGE_CACHE === 'redis'
  if (url === undefined) {
    if (storageCache) {
      throw new CoreError(
        'E_VALIDATION',
        'The Redis storage cache is on (CORE_STORAGE_CACHE=redis or redis.storageCache) but no Redis is named: set CORE_REDIS_URL or redis.url',
        { details: { field: 'redis.url' } },
      )
    }
    return undefined
  }
  return {
    url,
    keyPrefix: file?.keyPrefix ?? DEFAULT_REDIS_KEY_PREFIX,
    storageCache,
    cacheTtlMs: file?.cacheTtlMs ?? DEFAULT_REDIS_CACHE_TTL_MS,
    startWaitMs: file?.startWaitMs ?? DEFAULT_REDIS_START_WAIT_MS,
  }
}

/** `redis://host:6379/0` without the credentials. */
export function redactRedisUrl(url: string): string {
  return url.replace(/^(rediss?:\/\/)[^@/]*@/, '$1')
}
