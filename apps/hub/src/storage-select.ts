import { createStorage, type Storage } from '@core/storage'
import type { StorageConfig } from './config.js'
import { withRedisCache } from './redis.js'
import type { RedisSettings } from './redis-config.js'

/**
 * Opens the storage the config names: SQLite at `<dataDir>/hub.db` (the folder is created) with
 * the configured `synchronous` setting, or PostgreSQL when a database URL is set, behind the
 * Redis read cache when `redis.storageCache` is on. Each driver is imported only when used.
 * @throws {@link @core/contracts!CoreError} `E_STORAGE` when the database cannot be opened; `E_VALIDATION` for a bad URL.
 */
export async function openStorage(config: StorageConfig, redis?: RedisSettings): Promise<Storage> {
  if (config.kind === 'sqlite') {
    const { createSqliteAdapter } = await import('@core/storage-sqlite')
    return createStorage(
      await withRedisCache(
        await createSqliteAdapter({ filename: config.filename, synchronous: config.synchronous }),
        redis,
      ),
    )
  }
  const { createPostgresAdapter } = await import('@core/storage-postgres')
  const adapter = await createPostgresAdapter({
    url: config.url,
    ...(config.schema === undefined ? {} : { schema: config.schema }),
  })
  return createStorage(await withRedisCache(adapter, redis))
}

/** `sqlite /data/hub.db` or `postgres host:5432/db` (never the credentials). */
export function describeStorage(config: StorageConfig): string {
  if (config.kind === 'sqlite') {
    return `sqlite ${config.filename}${config.synchronous === 'FULL' ? ' (synchronous FULL)' : ''}`
  }
  const target = config.url.replace(/^postgres(ql)?:\/\/([^@/]*@)?/, '').replace(/[?#].*$/, '')
  return `postgres ${target}${config.schema === undefined ? '' : ` (schema ${config.schema})`}`
}
