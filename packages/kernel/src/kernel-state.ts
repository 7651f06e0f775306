import type { Clock, Logger, RateLimitedLogger } from '@core/contracts'
import type { EventBus } from '@core/event-bus'
import type { ServiceRegistry } from '@core/service-registry'
import type { StateEngine } from '@core/state-engine'
import type { Storage } from '@core/storage'
import type { ResourceCounts } from './context.js'
import type { FaultContainment } from './fault-containment.js'
import type { Isolation } from './isolation/supervisor.js'
import type { ConfigSchemas } from './manifest.js'
import type { PersistentStateBackend } from './persistent-state-types.js'
import type { PluginRecord } from './plugin-record.js'
import type { Policy } from './policy.js'
import type { KernelSecurity } from './security.js'
import type { CreateKernelOptions, HealthCheck, StopReport } from './types.js'

/** Where the kernel is in its own life: `start()` moves it from idle, `stop()` to stopped. */
export type KernelPhase = 'idle' | 'starting' | 'running' | 'stopping' | 'stopped' | 'failed'

/**
 * Everything the parts of the kernel share (boot, steps, plugin manager, shutdown, health):
 * built once by `createKernel` and passed to each part, the only mutable state there is.
 * @internal
 */
export interface KernelState {
  readonly options: CreateKernelOptions
  readonly clock: Clock
  /** The root logger (plugins get children of it). */
  readonly logger: Logger
  /** The kernel's own child logger (`component: kernel`). */
  readonly log: Logger
  readonly bus: EventBus
  readonly services: ServiceRegistry
  readonly state: StateEngine
  readonly storage: Storage
  /** Whether `storage` was created by the kernel (and is closed by `stop()`). */
  readonly ownsStorage: boolean
  /** The backend of the persisted state namespaces, when there are any. */
  readonly persistedState: PersistentStateBackend | undefined
  /** The operator policy (`options.policy`, compiled), narrowing what manifests grant. */
  readonly policy: Policy | undefined
  /** Where refusals to plugins are logged, rate-limited per plugin. */
  readonly denialLog: RateLimitedLogger
  /** The policy for every caller and the one place refusals are reported (`kernel.security`). */
  readonly security: KernelSecurity
  readonly schemas: ConfigSchemas
  /** Every plugin known, by name. */
  readonly records: Map<string, PluginRecord>
  /** Plugin names in start order (dependencies first), then those that failed discovery. */
  order: string[]
  /** Plugins that must start: `options.required` and what they require. */
  required: Set<string>
  phase: KernelPhase
  /** The report of the `stop()` that ran, returned to later calls. */
  lastStop: StopReport | undefined
  /** The tail of the queue that runs `start`, `stop` and plugin operations one at a time. */
  chain: Promise<unknown>
  /** Resources released by plugin contexts so far (for `stats()`). */
  readonly released: ResourceCounts
  /** Fault containment, when `containFaults` is on. */
  containment: FaultContainment | undefined
  /** Health checks added with `addHealthCheck`, by component name. */
  readonly healthChecks: Map<string, HealthCheck>
  /** Workers of the plugins whose manifest says `isolation: worker`. */
  isolation: Isolation
  /** Starts a plugin again (the plugin manager's `start`; set by `createKernel`). */
  startPlugin: (name: string) => Promise<unknown>
  /** Reloads a plugin whose files changed (the plugin manager's `reload`; set by `createKernel`). */
  onFilesChanged: (name: string) => void
}

/**
 * Runs `work` after every operation queued before it (settled either way): `start`, `stop`
 * and plugin operations never interleave.
 * @internal
 */
export function exclusive<T>(k: KernelState, work: () => Promise<T>): Promise<T> {
  const run = k.chain.then(work, work)
  k.chain = run.catch(() => undefined)
  return run
}
