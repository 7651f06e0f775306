import type { CoreError, Logger } from '@core/contracts'
import type { EventBus } from '@core/event-bus'
import type { ServiceRegistry } from '@core/service-registry'
import type { StateEngine } from '@core/state-engine'
import type { Storage } from '@core/storage'
import type { Registry } from 'prom-client'
import type { KernelSecurity } from './security.js'
import type { LifecycleStep, PluginInfo, PluginLifecycleState } from './types.js'

// ─── Kernel ─────────────────────────────────────────────────────────────────────────────────

/** Health of one part. @public */
export type HealthStatus = 'healthy' | 'degraded' | 'unhealthy'

/** Health of one component (bus, services, state, storage, plugins). @public */
export interface ComponentHealth {
  status: HealthStatus
  details?: Record<string, unknown>
}

/** Health of one plugin. @public */
export interface PluginHealth {
  status: HealthStatus
  state: PluginLifecycleState
  required: boolean
  error?: string
  reason?: string
}

/**
 * What `kernel.health()` returns. `unhealthy`: the kernel is not running, or a required
 * plugin is not started; `degraded`: an optional plugin failed or was not started;
 * else `healthy`.
 * @public
 */
export interface HealthReport {
  status: HealthStatus
  components: Record<string, ComponentHealth>
  plugins: Record<string, PluginHealth>
}

/** What `kernel.start()` resolves with. @public */
export interface BootReport {
  /** Started plugins, in start order. */
  started: string[]
  /** Plugins that failed (optional ones; a required failure rejects instead). */
  failed: Array<{ name: string; step: LifecycleStep; error: CoreError }>
  /** Plugins not started, with why (e.g. a dependency failed). */
  skipped: Array<{ name: string; reason: string }>
  /** Wall time of the boot, ms. */
  durationMs: number
}

/** What `kernel.stop()` resolves with. @public */
export interface StopReport {
  /** Plugins stopped and unloaded cleanly, in stop order. */
  stopped: string[]
  /** Plugins whose stop or unload threw or hung past its timeout (abandoned). */
  failed: Array<{ name: string; step: LifecycleStep; error: CoreError }>
  /** True when the overall `shutdownTimeoutMs` deadline passed. */
  timedOut: boolean
  durationMs: number
}

/** Options of `kernel.plugins.reload`. @public */
export interface ReloadPluginOptions {
  /** Also restart started dependents, in order. @defaultValue true */
  dependents?: boolean
}

/**
 * `kernel.plugins`: query and drive single plugins.
 * @public
 */
export interface PluginManager {
  /** Every known plugin, in start order. */
  list(): Promise<PluginInfo[]>
  /** One plugin. @throws E_NOT_FOUND */
  get(name: string): Promise<PluginInfo>
  /** Sets up (if needed) and starts a plugin whose dependencies are started. @throws E_NOT_FOUND, E_PLUGIN_DEPENDENCY, E_PLUGIN_LIFECYCLE */
  start(name: string): Promise<PluginInfo>
  /** Stops a plugin (and first its started dependents). @throws E_NOT_FOUND, E_PLUGIN_LIFECYCLE */
  stop(name: string): Promise<PluginInfo>
  /** Stop, unload, re-import (fresh module instance), setup, start; dependents restarted in order. */
  reload(name: string, options?: ReloadPluginOptions): Promise<PluginInfo>
  /** Discovers, validates, loads and starts the plugin package at `path` (a folder or package name). */
  load(path: string): Promise<PluginInfo>
  /** Stops (dependents first) and unloads a plugin, releasing everything made through its ctx. */
  unload(name: string): Promise<PluginInfo>
}

/** Kernel-level counters. @public */
export interface KernelStats {
  /** Accesses refused with `E_FORBIDDEN`, by plugin. */
  denials: Record<string, number>
  /** Live resources made through plugin contexts, by kind. */
  resources: { subscriptions: number; services: number; watches: number; timers: number }
}

/**
 * The kernel: owns the bus, the service registry, the state engine and the storage, and
 * supervises plugins. Holds no domain logic.
 * @public
 */
export interface Kernel {
  /** The plugin API version plugins' `coreApi` ranges are checked against. */
  readonly apiVersion: string
  /** The event bus (for adapters: HTTP, MQTT…). */
  readonly bus: EventBus
  /** The service registry. */
  readonly services: ServiceRegistry
  /** The state engine. */
  readonly state: StateEngine
  /** The storage (the one given, or an in-memory one). */
  readonly storage: Storage
  /** The kernel's logger (plugins get children of it). */
  readonly logger: Logger
  /** Query and drive single plugins. */
  readonly plugins: PluginManager
  /**
   * The one prom-client Registry of this kernel (see {@link CreateKernelOptions.metrics}): the
   * bus, services, state, storage and plugin metrics, and those adapters add (`@core/mqtt`,
   * `@core/redis`, `@core/mindbus`). `@core/http` serves it at `GET /metrics`; without HTTP,
   * read it with `await kernel.metrics.metrics()` (Prometheus text exposition format 0.0.4).
   * @see Prometheus text exposition format 0.0.4; prom-client
   */
  readonly metrics: Registry
  /** Discovers, validates, resolves, then sets up and starts every plugin in dependency order. */
  start(): Promise<BootReport>
  /** Stops every plugin in reverse order under `shutdownTimeoutMs`, then closes what the kernel owns. */
  stop(): Promise<StopReport>
  /**
   * Health of the kernel, its components, every registered health check and every plugin.
   * The overall status is the worst of them.
   */
  health(): Promise<HealthReport>
  /**
   * Adds a component to {@link Kernel.health}: an adapter that holds a connection of its own
   * (an MQTT bridge, a remote transport) reports it here. The check runs on every `health()`
   * call under a 1,000 ms deadline; one that throws or times out reports `unhealthy`.
   * @param name - The component name in `components`: a lower-case word (`mqtt`), not one of
   *   the built-in `kernel`, `bus`, `services`, `state`, `storage`, `plugins`.
   * @param check - Returns the component's `{ status, details? }`.
   * @returns Its undo: removes the check.
   * @throws {@link @core/contracts!CoreError} `E_VALIDATION` for a bad or built-in name; `E_CONFLICT` when a
   *   check of that name is registered already.
   */
  addHealthCheck(name: string, check: HealthCheck): () => void
  /** Denial counters and live plugin resources. */
  stats(): KernelStats
  /**
   * The operator policy for callers outside the kernel (HTTP tokens, MQTT and MindBus callers)
   * and the one place every refusal is reported (`core.security.denied`,
   * `core_security_denials_total`, rate-limited log). See {@link KernelSecurity}.
   */
  readonly security: KernelSecurity
}

/** A component's health probe, see {@link Kernel.addHealthCheck}. @public */
export type HealthCheck = () => ComponentHealth | Promise<ComponentHealth>
