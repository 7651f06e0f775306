/// <reference types="node" preserve="true" />
/**
 * Redis for Core Runtime (ioredis): a state backend shared by several hubs, change events across
 * hubs on Redis Streams, a read cache for storage.
 *
 * @module @core/redis
 */
export {
  type CachedStorageAdapterOptions,
  createCachedStorageAdapter,
} from './cached-storage-adapter.js'
export {
  REDIS_CLIENT_DEFAULTS,
  type RedisConnectionOptions,
} from './connection.js'
export type { RedisMetrics } from './metrics.js'
export { createRedisStateBackend } from './redis-state-backend.js'
export type {
  RedisStateBackend,
  RedisStateBackendOptions,
  RedisStateBackendStatus,
} from './types.js'
