import type { JsonSchema, Logger, PluginManifest, Undo } from '@core/contracts'
import type { EventHandler, PublishOptions, PublishReport, SubscribeOptions } from '@core/event-bus'
import type {
  ServiceHandler as RegistryServiceHandler,
  ServiceContext,
  ServiceRegistry,
} from '@core/service-registry'
import type { StateEngine } from '@core/state-engine'
import type { NamespacedStorage } from '@core/storage'

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
  ): Undo
  /** Registers a payload schema for an event type it may publish; returns the undo. @throws E_FORBIDDEN */
  defineEvent(type: string, schema: JsonSchema): Undo
}

/** What a service handler receives besides its params (the registry's `ServiceContext`). @public */
export type ServiceCallContext = ServiceContext

/** A service handler: `(params, context) => result` (the registry's `ServiceHandler`). @public */
export type ServiceHandler<P = unknown, R = unknown> = RegistryServiceHandler<P, R>

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
export type ScopedState = Omit<StateEngine, 'close' | 'stats'>

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
