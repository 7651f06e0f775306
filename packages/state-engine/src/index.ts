/// <reference types="node" preserve="true" />
/**
 * Namespaced state with revisions, TTL and change events on the event bus.
 *
 * @module @core/state-engine
 */
export { createMemoryStateBackend } from './memory-backend.js'
export type { CreateStateEngineMetricsOptions } from './metrics.js'
export { createStateEngineMetrics } from './metrics.js'
export { createStateEngine } from './state-engine.js'
export type {
  BackendDeleteOptions,
  BackendSetOptions,
  BackendWriteResult,
  CreateStateEngineOptions,
  DeleteStateOptions,
  ListStateOptions,
  SetStateOptions,
  StateBackend,
  StateBackendListener,
  StateEngine,
  StateEngineStats,
  StateListItem,
  StateWatchHandler,
  WatchStateOptions,
} from './types.js'
