/// <reference types="node" preserve="true" />
/**
 * The Core Runtime kernel: plugin discovery, manifests, dependencies, lifecycle, hot reload,
 * scoped contexts and permissions.
 *
 * @module @core/kernel
 */
export { definePlugin } from './define-plugin.js'
export { DEFAULT_STALL_THRESHOLD_MS } from './fault-containment.js'
export { createKernel } from './kernel.js'
export { DEFAULT_LIFECYCLE_TIMEOUT_MS, DEFAULT_SHUTDOWN_TIMEOUT_MS } from './lifecycle.js'
export { CORE_API_VERSION } from './manifest.js'
export type { PermissionKind } from './permissions.js'
export { patternContains } from './permissions.js'
export type {
  CreatePersistentStateBackendOptions,
  PersistedStateDocument,
  PersistentStateBackend,
  PersistentStateRestoreReport,
  RestorePersistentStateOptions,
} from './persistent-state.js'
export {
  createPersistentStateBackend,
  PERSISTED_STATE_STORAGE_NAMESPACE,
  persistedStateKey,
} from './persistent-state.js'
export type {
  Awaitable,
  BootReport,
  CallServiceOptions,
  ComponentHealth,
  CreateKernelOptions,
  HealthCheck,
  HealthReport,
  HealthStatus,
  InlinePlugin,
  Kernel,
  KernelStats,
  LifecycleStep,
  LifecycleTimeouts,
  PluginClass,
  PluginContext,
  PluginDefinition,
  PluginExport,
  PluginHealth,
  PluginHooks,
  PluginInfo,
  PluginLifecycleState,
  PluginManager,
  PluginMigration,
  PluginMigrations,
  PluginSource,
  PluginStorage,
  PluginTransitionEvent,
  RegisterServiceOptions,
  ReloadPluginOptions,
  ScopedEvents,
  ScopedServices,
  ScopedState,
  ScopedStorage,
  ScopedTimers,
  ServiceCallContext,
  ServiceHandler,
  StopReport,
  TimerHandle,
} from './types.js'
