import type { Logger } from '@core/contracts'
import type { Kernel } from '@core/kernel'
import {
  createCachedStorageAdapter,
  createRedisStateBackend,
  type RedisStateBackend,
} from '@core/redis'
import type { StorageAdapter } from '@core/storage'
import { type RedisSettings, redactRedisUrl } from './redis-config.js'

/**
 * Opens the Redis state backend the settings name and waits for it at most `startWaitMs`.
 * Never throws for an unreachable Redis: the hub boots with health `degraded`, state calls fail
 * with `E_UNAVAILABLE` until Redis answers, and the connection keeps reconnecting.
 */
export async function openRedisState(
  settings: RedisSettings,
  logger: Logger,
): Promise<RedisStateBackend> {
  const backend = createRedisStateBackend({
    url: settings.url,
    keyPrefix: settings.keyPrefix,
    logger: logger.child({ component: 'redis' }),
  })
  try {
    await backend.ready(settings.startWaitMs)
  } catch (error) {
    logger.warn(
      { err: error, url: redactRedisUrl(settings.url) },
      'Redis is not reachable yet: state calls fail with E_UNAVAILABLE until it is; reconnecting in the background',
    )
  }
  return backend
}

/** The storage adapter, behind the Redis read cache when the settings ask for it. */
export async function withRedisCache(
  adapter: StorageAdapter,
  settings: RedisSettings | undefined,
): Promise<StorageAdapter> {
  if (settings?.storageCache !== true) return adapter
  return createCachedStorageAdapter(adapter, {
    redis: settings.url,
    keyPrefix: settings.keyPrefix,
    ttlMs: settings.cacheTtlMs,
    connectTimeoutMs: settings.startWaitMs,
  })
}

/** The `redis` component of `kernel.health()`: `degraded` while the connection is down. */
export function addRedisHealth(
  kernel: Kernel,
  backend: RedisStateBackend,
  settings: RedisSettings,
): () => void {
  return kernel.addHealthCheck('redis', () => {
    const status = backend.status()
    return {
      status: status.connected ? 'healthy' : 'degraded',
      details: {
        url: redactRedisUrl(settings.url),
        keyPrefix: settings.keyPrefix,
        connection: status.status,
        storageCache: settings.storageCache,
        streamGaps: status.gaps,
      },
    }
  })
}

/** `redis://host:6379 connected · prefix core: · storage cache on`, or why not. */
export function describeRedis(settings: RedisSettings, backend: RedisStateBackend): string {
  const link = backend.status().connected
    ? 'connected'
    : 'NOT connected, retrying in the background; health is degraded and state calls fail until it connects'
  const cache = settings.storageCache ? ' · storage cache on' : ''
  return `${redactRedisUrl(settings.url)} ${link} · state shared · prefix ${settings.keyPrefix}${cache}`
}
