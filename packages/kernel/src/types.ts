import type { CoreError, PluginIsolation, PluginManifest } from '@core/contracts'
import type { PluginContext, ScopedStorage } from './context-types.js'

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
  /**
   * Where its code runs (the manifest's `isolation`): `inline` in the kernel's thread, `worker`
   * in a `worker_threads` Worker, `process` in a child process under Node's permission model.
   */
  isolation: PluginIsolation
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

// The context, kernel and option types live in their topic files; re-exported for the package.
export type {
  PluginContext,
  PluginStorage,
  ScopedEvents,
  ScopedServices,
  ScopedState,
  ScopedStorage,
  ScopedTimers,
  ServiceCallContext,
  ServiceHandler,
  TimerHandle,
} from './context-types.js'
export type {
  BootReport,
  ComponentHealth,
  HealthCheck,
  HealthReport,
  HealthStatus,
  Kernel,
  KernelStats,
  PluginHealth,
  PluginManager,
  ReloadPluginOptions,
  StopReport,
} from './kernel-types.js'
export type { CreateKernelOptions } from './options.js'
