import type { Clock, Logger, PolicyDocument } from '@core/contracts'
import { CoreError } from '@core/contracts'
import type { RemoteTransport } from '@core/service-registry'
import type { StateBackend } from '@core/state-engine'
import type { Storage } from '@core/storage'
import type { Registry } from 'prom-client'
import type { IsolationOptions } from './isolation/supervisor.js'
import type { InlinePlugin, LifecycleTimeouts } from './types.js'

/** Options of {@link createKernel}. @public */
export interface CreateKernelOptions {
  /**
   * Contains the faults of inline plugins (the reference hub turns it on). Off by default, so
   * that an app embedding the kernel, and tests, keep Node's own behaviour. When on, from
   * `start()` until `stop()`:
   *
   * - `unhandledRejection` and `uncaughtException` handlers look for the topmost stack frame in
   *   a plugin's folder; that plugin is failed (its context released, state `failed`,
   *   `health().plugins[name].error` says why) and the hub keeps running. A fault that names no
   *   plugin (a rejection with a non-Error, a library's own error) is logged and counted, the
   *   hub keeps running, and `health().components.faults` is `degraded`.
   * - `process.exit()` called from a plugin's code is refused: it throws `E_FORBIDDEN` into the
   *   plugin and fails it. Any other caller (the hub's own shutdown) exits as usual.
   * - Once boot is over (module loading at boot blocks the loop by nature), an event-loop delay
   *   monitor (`perf_hooks.monitorEventLoopDelay` and a heartbeat) makes
   *   `health().components.faults` `unhealthy` for 10 s after a stall of at least
   *   `stallThresholdMs`, with the measured stall.
   * - A watchdog thread watches the main thread's heartbeat while a plugin's `setup`, `start` or
   *   `stop` runs. The main thread cannot interrupt its own busy loop, so when it has not beaten
   *   for longer than the step's timeout, the watchdog writes a fatal log line naming the plugin
   *   and step to stderr and ends the process (SIGKILL), rather than let boot hang forever.
   *
   * Not protected: a plugin that loops forever after it started (health can only report it once
   * the loop yields), memory exhaustion, native crashes, a plugin changing globals. Plugins from
   * a folder are attributed; inline plugin objects have no folder and are not. Real isolation
   * is the `worker` and `process` isolation levels.
   * @defaultValue false
   */
  containFaults?: boolean
  /**
   * An operator policy that narrows what plugin manifests grant (see `PolicyDocumentSchema` in
   * `@core/contracts`: most specific rule wins, deny beats allow between equals, default deny
   * outside a plugin's own namespace). Each refusal is `E_FORBIDDEN` for the plugin, a
   * `core.security.denied` event (`{ subject, action, resource, reason, rule? }`) and a count in
   * `stats().denials`. Checked at `createKernel`.
   * @throws {@link @core/contracts!CoreError} `E_VALIDATION` (from `createKernel`) for a malformed document.
   * @defaultValue none: manifests alone decide
   */
  policy?: PolicyDocument
  /**
   * Settings of the `worker` and `process` isolation levels: heap cap, heartbeat, watchdog,
   * restarts, the data folders of process plugins. A plugin whose manifest says
   * `isolation: "worker"` runs in a `worker_threads` Worker, one that says `"process"` in a
   * child process under Node's permission model (refused with `E_PLUGIN_MANIFEST` on a Node
   * without one); its `ctx` calls cross a MessagePort or the IPC channel and are checked
   * against its manifest here, in the kernel.
   * @see {@link IsolationOptions}
   */
  isolation?: IsolationOptions
  /**
   * The prom-client Registry the kernel's components add their metrics to (`kernel.metrics`).
   * Pass one to gather more (the process's default metrics, an app's own) in the same place.
   * @defaultValue a new Registry (never prom-client's global one)
   */
  metrics?: Registry
  /**
   * Where calls go that no local service serves: the service registry's
   * {@link RemoteTransport} (e.g. `@core/mindbus`'s `transport`, which sends them to the node
   * serving them). Local services always win. The transport may be bound late (a wrapper that
   * forwards once the real one exists), since it usually needs `kernel.bus`.
   * @defaultValue none: such calls fail with `E_SERVICE_NOT_FOUND`
   */
  remote?: RemoteTransport
  /** With `containFaults`: the event-loop delay that makes health `unhealthy`, in ms. @defaultValue 5_000 */
  stallThresholdMs?: number
  /** Folders whose subfolders holding a package.json are plugin candidates. @defaultValue [] */
  pluginDirs?: string[]
  /**
   * Explicit plugins: package folders, package.json paths or package names (resolved from
   * the host package's folder), or {@link InlinePlugin} objects.
   */
  plugins?: Array<string | InlinePlugin>
  /** A package.json (path, or its folder) whose dependencies carrying `corePlugin` are plugins. */
  hostPackage?: string
  /** Plugin names that must start; their failure (or their dependencies') fails the boot. */
  required?: string[]
  /** Per-plugin config keyed by plugin name; validated against each manifest's `config` schema. */
  config?: Record<string, unknown>
  /** The storage; owned by the caller when given. @defaultValue `createStorage(memory adapter)`, closed on stop */
  storage?: Storage
  /**
   * State namespaces to persist into `storage` (each matches `NAMESPACE_PATTERN`, e.g. a
   * plugin's name), so that they survive a restart. Storage is their source of truth: every
   * set, delete and expiry in them is written to storage first and changes the state only once
   * storage acknowledged it, so a failed write rejects (`E_STORAGE`) and leaves the state
   * unchanged. `start()` restores them before any plugin is loaded, with their revisions,
   * `updatedAt` and `expiresAt` (entries already expired are dropped; the store-wide revision
   * counter resumes above the highest persisted revision); using one before `start()` rejects
   * with `E_UNAVAILABLE`. They are stored in the reserved storage namespace `core`, one document
   * per key at `state.<namespace>.<key>` (see `persistedStateKey`). Other namespaces stay in
   * memory. Give the same storage (e.g. SQLite) to the next process to get them back.
   * A plugin asks for the same for its own namespace with `persistState: true` in its
   * manifest (restored at boot too, or before its `setup` when loaded later); this option adds
   * namespaces the operator wants kept.
   * @defaultValue [] (nothing persisted)
   * @see `createPersistentStateBackend` (this package), which does the work
   * @example
   * ```ts
   * const storage = createStorage(await createSqliteAdapter({ filename: './data/hub.db' }))
   * const kernel = createKernel({ storage, persistState: ['scenes', 'presence'] })
   * ```
   */
  persistState?: string[]
  /**
   * Where the state engine keeps its entries, e.g. a Redis backend shared by several hubs
   * (`createRedisStateBackend` of `@core/redis`). Owned by the caller: `stop()` leaves it open.
   * Not together with `persistState` (that one is a backend of its own); the manifests'
   * `persistState: true` are then served by this backend (logged at boot).
   * @defaultValue the in-memory backend
   * @example
   * ```ts
   * const backend = createRedisStateBackend({ url: 'redis://127.0.0.1:6379' })
   * const kernel = createKernel({ stateBackend: backend })
   * ```
   */
  stateBackend?: StateBackend
  /** Timeout of each lifecycle step, ms, or per step. @defaultValue 10_000 */
  lifecycleTimeoutMs?: number | LifecycleTimeouts
  /** Overall deadline of `stop()`, ms. @defaultValue 30_000 */
  shutdownTimeoutMs?: number
  /** @defaultValue a pino logger at `CORE_LOG_LEVEL` or `info` */
  logger?: Logger
  /** @defaultValue systemClock */
  clock?: Clock
  /** Reload a plugin when its files change (dev mode). @defaultValue false */
  watch?: boolean | { debounceMs?: number }
}

/**
 * Checks the options of `createKernel` that are not checked where they are used.
 * @throws {@link @core/contracts!CoreError} `E_VALIDATION` naming the option and the rule.
 * @internal
 */
export function checkOptions(options: CreateKernelOptions): void {
  const bad = (what: string, rule: string): never => {
    throw new CoreError('E_VALIDATION', `Invalid kernel option ${what}: ${rule}`, {
      details: { option: what },
    })
  }
  const positive = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v) && v > 0
  if (options.lifecycleTimeoutMs !== undefined) {
    const t = options.lifecycleTimeoutMs
    if (
      typeof t === 'number'
        ? !positive(t)
        : typeof t !== 'object' || !Object.values(t).every(positive)
    ) {
      bad('lifecycleTimeoutMs', 'use a positive number of milliseconds, or one per step')
    }
  }
  if (options.shutdownTimeoutMs !== undefined && !positive(options.shutdownTimeoutMs)) {
    bad('shutdownTimeoutMs', 'use a positive number of milliseconds')
  }
  for (const key of ['pluginDirs', 'plugins', 'required', 'persistState'] as const) {
    if (options[key] !== undefined && !Array.isArray(options[key])) bad(key, 'use an array')
  }
  if (options.stateBackend !== undefined && (options.persistState?.length ?? 0) > 0) {
    bad('stateBackend', 'give either stateBackend or persistState, not both')
  }
}
