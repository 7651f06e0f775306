/// <reference types="node" preserve="true" />
/**
 * Persistent namespaced JSON documents: the storage API, the adapter contract, a memory adapter
 * and the conformance suite.
 *
 * @module @core/storage
 */
export type {
  AdapterBatchOp,
  AdapterEntry,
  AdapterListOptions,
  AdapterQuery,
  JsonScalar,
  QueryCondition,
  QueryOrder,
  StorageAdapter,
  StorageAdapterOps,
  StorageAdapterTransaction,
} from './adapter.js'
export { compareKeys, prefixEnd } from './adapter.js'
export { FifoLock } from './fifo-lock.js'
export { createMemoryAdapter } from './memory-adapter.js'
export { createStorageMetrics } from './metrics.js'
export type { PluginMigrationResult, RunPluginMigrationsOptions } from './migrations.js'
export { runPluginMigrations } from './migrations.js'
export { createStorage } from './storage.js'
export type {
  BatchOp,
  CountOptions,
  CreateStorageOptions,
  IterateOptions,
  ListOptions,
  ListPage,
  MigrationStep,
  NamespacedStorage,
  Storage,
  StorageEntry,
  StorageOps,
  StorageTransaction,
} from './types.js'
export type { QueryOptions, WhereCondition } from './validate.js'
export {
  assertStorageKey,
  DEFAULT_MAX_VALUE_BYTES,
  MAX_KEY_LENGTH,
  MAX_LIMIT,
} from './validate.js'
