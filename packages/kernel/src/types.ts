import type { Clock, CoreError, JsonSchema, Logger, PluginManifest } from '@core/contracts'
import type {
  EventBus,
  EventHandler,
  PublishOptions,
  PublishReport,
  SubscribeOptions,
  Unsubscribe,
} from '@core/event-bus'
import type {
  CallOptions,
  RegisterOptions,
  ServiceHandler as RegistryServiceHandler,
  ServiceContext,
  ServiceRegistry,
} from '@core/service-registry'
import type { StateBackend, StateEngine } from '@core/state-engine'
import type { NamespacedStorage, Storage } from '@core/storage'

// ─── Lifecycle ──────────────────────────────────────────────────────────────────────────────

/**
 * Where a plugin is in its life:
 * `discovered` (manifest read and valid) → `loaded` (entry imported) → `setup` (`setup(ctx)`
 * done) → `started` (`start()` done) → `stopped` (`stop()` done) → `unloaded` (`unload()` done,
 * everything made through its `ctx` released). `failed`: a step threw or timed out, or the
 * plugin could not be loaded; {@link PluginInfo.error} says why.
 * @public
 */
export type PluginLifecycleState =
  | 'discovered'
  | 'loaded'
  | 'setup'
  | 'started'
  | 'stopped'
  | 'failed'
  | 'unloaded'

/**
 * A step of the lifecycle: `discover` (package.json read, manifest validated), `resolve`
 * (dependencies checked), then the steps that run under a timeout: `load` (entry imported),
 * `migrate` (plugin-data migrations), `setup`, `start`, `stop`, `unload`.
 * @public
 */
export type LifecycleStep =
  | 'discover'
  | 'resolve'
  | 'load'
  | 'migrate'
  | 'setup'
  | 'start'
  | 'stop'
  | 'unload'

/** Per-step timeouts in milliseconds. @public */
export type LifecycleTimeouts = Partial<Record<LifecycleStep, number>>

/** How a plugin was found. @public */
export type PluginSource = 'host' | 'dir' | 'explicit' | 'inline' | 'load'

/**
 * What the kernel tells about one plugin (`kernel.plugins.list()` / `get(name)`); a snapshot,
 * JSON-serialisable (`error` serialises through `CoreError.toJSON`).
 * @public
 */
export interface PluginInfo {
  /** The manifest name, which is also the plugin's namespace. */
  name: string
  /** The package.json `version` (semver). */
  version: string
  /** Absolute folder of the plugin's package, or `inline:<name>` for an inline plugin. */
  path: string
  /** The manifest's `description`, when given. */
  description?: string
  /** Where it is in its lifecycle. */
  state: PluginLifecycleState
  /** True when the plugin must start for boot to succeed (listed in `required`, or needed by one that is). */
  required: boolean
  /** How it was found. */
  source: PluginSource
  /** Required dependencies: plugin name → semver range. */
  requires: Record<string, string>
  /** Optional dependencies: plugin name → semver range. */
  optionalRequires: Record<string, string>
  /** Started plugins that require this one (directly). */
  dependents: string[]
  /** Why it failed (`E_PLUGIN_LIFECYCLE`, `E_PLUGIN_MANIFEST`, `E_PLUGIN_DEPENDENCY`…), when `state` is `failed`. */
  error?: CoreError
  /** The step that failed, when `state` is `failed`. */
  failedStep?: LifecycleStep
  /** Why it is not started although it was meant to be, e.g. `dependency "b" failed`. */
  reason?: string
  /** Times it was reloaded. */
  reloads: number
  /** Accesses refused with `E_FORBIDDEN` since it was loaded. */
  denials: number
  /** Epoch ms of the last state change. */
  since: number
}

/** The data of a `core.plugin.<state>` event, published on every lifecycle transition. @public */
export interface PluginTransitionEvent {
  name: string
  version: string
  state: PluginLifecycleState
  previous: PluginLifecycleState | undefined
  /** For `failed`: the step and the serialised error. */
  step?: LifecycleStep
  error?: ReturnType<CoreError['toJSON']>
  reason?: string
}

// ─── Plugin shapes ──────────────────────────────────────────────────────────────────────────

/** A value, or a promise of it. @public */
export type Awaitable<T> = T | Promise<T>

/**
 * The hooks a plugin may implement; all optional. Each runs under the step's timeout.
 * - `setup(ctx)`: register services, subscribe, read config. Runs after storage migrations.
 * - `start()`: begin work (connect, schedule timers).
 * - `stop()`: stop work; `ctx.signal` is already aborted.
 * - `unload()`: last call before everything made through `ctx` is released.
 * @public
 */
export interface PluginHooks<Config = Record<string, unknown>> {
  setup?(ctx: PluginContext<Config>): Awaitable<void>
  start?(): Awaitable<void>
  stop?(): Awaitable<void>
  unload?(): Awaitable<void>
}

/**
 * One plugin-data migration step: brings the plugin's storage to the version it is keyed by,
 * inside a transaction, with the plugin's namespace-bound storage.
 * @public
 */
export type PluginMigration = (storage: ScopedStorage) => Awaitable<void>

/**
 * Plugin-data migrations, keyed by the storage version each step brings the data to
 * (`{ 1: …, 2: … }`); the kernel runs the missing ones in order before `setup`.
 * @public
 */
export type PluginMigrations = Record<number | string, PluginMigration>

/**
 * A plugin as {@link definePlugin} returns it: its hooks plus optional `migrations`.
 * @public
 */
export interface PluginDefinition<Config = Record<string, unknown>> extends PluginHooks<Config> {
  /** Plugin-data migrations (used with the manifest's `storage.version`). */
  migrations?: PluginMigrations
}

/**
 * A plugin class: instantiated once per load as `new Plugin(ctx)`; its methods are the hooks.
 * @public
 */
export type PluginClass<Config = Record<string, unknown>> = new (
  ctx: PluginContext<Config>,
) => PluginHooks<Config>

/**
 * What a plugin's entry module may export, as `default` or as a named `plugin` export:
 * a hooks object (e.g. from {@link definePlugin}), a class, or a setup function
 * `(ctx) => void | hooks` whose returned hooks (if any) are used for start/stop/unload.
 * A named `migrations` export is used when the plugin object has none.
 * @public
 */
export type PluginExport<Config = Record<string, unknown>> =
  | PluginDefinition<Config>
  | PluginClass<Config>
  | ((ctx: PluginContext<Config>) => Awaitable<PluginHooks<Config> | undefined>)

/**
 * A plugin given in code rather than as a package (used by tests and `@core/testing`):
 * its manifest, its version and its implementation. `reload` re-runs it from the same object.
 * @public
 */
export interface InlinePlugin {
  /** The manifest, as it would be in package.json's `corePlugin` (`entry` may be omitted). */
  manifest: Omit<PluginManifest, 'entry'> & { entry?: string }
  /** The plugin's version. @defaultValue '0.0.0' */
  version?: string
  /** The implementation (any config type: the kernel validates config against the manifest). */
  // biome-ignore lint/suspicious/noExplicitAny: accepts plugins written for any config type
  plugin: PluginExport<any>
  /** Plugin-data migrations, when not on `plugin`. */
  migrations?: PluginMigrations
}

// ─── The scoped context ─────────────────────────────────────────────────────────────────────

/**
 * The bus as a plugin sees it. Publishing an event type, subscribing to a pattern or
 * defining a schema inside the plugin's own namespace (`<name>.…`, and `state.<name>.…` for
 * subscriptions) is always allowed; anything else needs a manifest permission
 * (`events.publish` / `events.subscribe`), else `E_FORBIDDEN`. Event types under `state.` and
 * `core.` are published by the kernel alone: `publish` and `defineEvent` refuse them with
 * `E_FORBIDDEN` whatever the manifest says (subscribing to them is fine). Events carry
 * `source: /plugins/<name>`; their `data` is deep-frozen and their envelope frozen (see
 * `@core/event-bus`). Subscriptions end on unload.
 * @public
 */
export interface ScopedEvents {
  /** Publishes `data` as event `type` (source `/plugins/<name>`). @throws E_FORBIDDEN, E_VALIDATION */
  publish<T = unknown>(type: string, data: T, options?: PublishOptions): Promise<PublishReport>
  /** Subscribes to an AMQP pattern; returns the undo (also released on unload). @throws E_FORBIDDEN, E_VALIDATION */
  subscribe<T = unknown>(
    pattern: string,
    handler: EventHandler<T>,
    options?: SubscribeOptions,
  ): Unsubscribe
  /** Registers a payload schema for an event type it may publish; returns the undo. @throws E_FORBIDDEN */
  defineEvent(type: string, schema: JsonSchema): Unsubscribe
}

/** What a service handler receives besides its params (the registry's `ServiceContext`). @public */
export type ServiceCallContext = ServiceContext

/** A service handler: `(params, context) => result` (the registry's `ServiceHandler`). @public */
export type ServiceHandler<P = unknown, R = unknown> = RegistryServiceHandler<P, R>

/** Options of `ctx.services.register` (the registry's `RegisterOptions`). @public */
export type RegisterServiceOptions = RegisterOptions

/** Options of `ctx.services.call` (the registry's `CallOptions`). @public */
export type CallServiceOptions = CallOptions

/**
 * The service registry as a plugin sees it: the registry's own `register`, `call`, `has`
 * and `list`, permission-checked. Registering `<name>.…` and calling its own services is
 * free; other names need `services.register` / `services.call` permission. Calls carry
 * `meta.caller = <plugin name>`. Registrations are removed on unload.
 * @public
 */
export type ScopedServices = Pick<ServiceRegistry, 'register' | 'call' | 'has' | 'list'>

/**
 * The state engine as a plugin sees it: the engine's own calls (`set`, `get`, `delete`,
 * `has`, `list`, `watch`; namespace first), permission-checked. Its own namespace is free;
 * for another namespace `ns`, reads (`get`, `has`, `list`, `watch`) need a `state.read`
 * pattern and writes (`set`, `delete`) a `state.write` pattern covering `ns.<key>` (for
 * `watch`: containing `ns.<keyPattern>`). `list` of another namespace returns only the keys
 * the plugin may read. Watches end on unload.
 * @public
 */
export type ScopedState = Omit<StateEngine, 'close'>

/**
 * The plugin's storage, bound to its namespace: `@core/storage`'s `NamespacedStorage`
 * (JSON documents by key: get, set, delete, has, count, list, query, batch, transaction).
 * @public
 */
export type ScopedStorage = NamespacedStorage

/**
 * `ctx.storage`: the plugin's own storage, plus `forNamespace(ns)` for another plugin's
 * documents, each call checked against the manifest's `storage.read` / `storage.write`
 * patterns on `<ns>.<key>` (multi-key calls: `list`, `count`, `query` need a read pattern
 * containing `<ns>.#`; `batch` and `transaction` a write pattern containing `<ns>.#`).
 * @public
 */
export interface PluginStorage extends ScopedStorage {
  /** Another namespace's documents, each call checked against `storage.read` / `storage.write`. */
  forNamespace(namespace: string): ScopedStorage
}

/**
 * Timers bound to the plugin: same as Node's, driven by the kernel's Clock, all cleared on
 * unload (and reload).
 * @public
 */
export interface ScopedTimers {
  /** Runs `handler` once after `delayMs` ms. */
  setTimeout(handler: () => void, delayMs: number): TimerHandle
  /** Runs `handler` every `intervalMs` ms. */
  setInterval(handler: () => void, intervalMs: number): TimerHandle
  /** Cancels a timeout; unknown or fired handles are ignored. */
  clearTimeout(handle: TimerHandle | undefined): void
  /** Cancels an interval; unknown handles are ignored. */
  clearInterval(handle: TimerHandle | undefined): void
}

/** An opaque timer handle from {@link ScopedTimers}. @public */
export interface TimerHandle {
  readonly id: number
}

/**
 * What a plugin gets in `setup(ctx)`: its scoped access to the kernel. The plugin never sees
 * the kernel itself. Everything made through `ctx` (subscriptions, service registrations,
 * state watches, timers) is released when the plugin is unloaded or reloaded.
 *
 * **Plain and frozen.** `ctx` and every object it holds or returns (`events`, `services`,
 * `state`, `storage` and its transaction handles, `logger`, `timers`, the deep-frozen
 * `manifest` copy and `config`, event envelopes and their `data`, call params and results,
 * `services.list()` descriptors, state entries, a handler's context) are frozen objects of the
 * documented fields and functions, with `Object.prototype` (or, for a handler context, a frozen
 * null-prototype holder of its two getters) behind them: no kernel, bus, registry, state or
 * storage object is reachable by property, getter, prototype or `constructor`, and nothing
 * one plugin holds can be changed by another. This protects against mistakes and casual
 * reach-through; inline plugins still share the process (see the isolation levels).
 * @public
 */
export interface PluginContext<Config = Record<string, unknown>> extends ScopedTimers {
  /** The plugin's name (= its namespace). */
  readonly name: string
  /** The plugin's version. */
  readonly version: string
  /** The validated manifest (frozen). */
  readonly manifest: Readonly<PluginManifest>
  /** The plugin's config: validated against the manifest's `config` schema, defaults applied (frozen). */
  readonly config: Readonly<Config>
  /** A logger bound to `{ plugin: name }` (a pino child). */
  readonly logger: Logger
  /** Aborted when the plugin stops (a fresh one is made when it starts again). */
  readonly signal: AbortSignal
  /** The event bus, permission-checked. */
  readonly events: ScopedEvents
  /** The service registry, permission-checked. */
  readonly services: ScopedServices
  /** The state engine, permission-checked. */
  readonly state: ScopedState
  /** The plugin's storage (bound to its namespace). */
  readonly storage: PluginStorage
  /** The same timers as the `setTimeout`… methods on `ctx`. */
  readonly timers: ScopedTimers
}

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
}

/** A component's health probe, see {@link Kernel.addHealthCheck}. @public */
export type HealthCheck = () => ComponentHealth | Promise<ComponentHealth>

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
   * Not together with `persistState` (that one is a backend of its own).
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
