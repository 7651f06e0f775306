/// <reference types="node" preserve="true" />
/**
 * The Core Runtime kernel: plugin discovery, manifests, dependencies, lifecycle, hot reload,
 * scoped contexts and permissions.
 *
 * @module @core/kernel
 */
// The registry's own option types, under their own names: a plugin's `ctx.services` takes them.
export type { CallOptions, RegisterOptions } from '@core/service-registry'
export { definePlugin } from './define-plugin.js'
export { DEFAULT_STALL_THRESHOLD_MS } from './fault-containment.js'
export type { IsolationOptions } from './isolation/supervisor.js'
export { createKernel } from './kernel.js'
export { DEFAULT_LIFECYCLE_TIMEOUT_MS, DEFAULT_SHUTDOWN_TIMEOUT_MS } from './lifecycle.js'
export { CORE_API_VERSION } from './manifest.js'
export type { PermissionKind } from './permissions.js'
export { patternContains } from './permissions.js'
export type { PersistedStateDocument } from './persisted-documents.js'
export { PERSISTED_STATE_STORAGE_NAMESPACE, persistedStateKey } from './persisted-documents.js'
export { createPersistentStateBackend } from './persistent-state.js'
export type {
  CreatePersistentStateBackendOptions,
  PersistentStateBackend,
  PersistentStateRestoreReport,
  RestorePersistentStateOptions,
} from './persistent-state-types.js'
export type { Policy, PolicyDecision, PolicyRequest, SecurityDeniedData } from './policy.js'
export { compilePolicy, patternsOverlap, SECURITY_DENIED_EVENT } from './policy.js'
export type { AuthorizeRequest, KernelSecurity } from './security.js'
export type {
  Awaitable,
  BootReport,
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
