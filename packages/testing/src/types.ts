import type { CloudEvent, CoreError, Logger, Undo } from '@core/contracts'
import type { FakeClock } from '@core/contracts/testing'
import type { EventBus, PublishOptions, PublishReport } from '@core/event-bus'
import type {
  BootReport,
  CallOptions,
  HealthReport,
  IsolationOptions,
  Kernel,
  LifecycleTimeouts,
  PluginContext,
  PluginManager,
  RegisterOptions,
  ServiceHandler,
  StopReport,
} from '@core/kernel'
import type { ServiceRegistry } from '@core/service-registry'
import type { StateEngine } from '@core/state-engine'
import type { Storage } from '@core/storage'
import type { MockPlugin } from './plugins.js'
import type { LogLevel, LogRecord } from './recording-logger.js'

/**
 * A stand-in for another plugin's service: a handler, or a handler with registration options
 * (`params` schema, `result` schema, `version`, `timeoutMs`…). Without `params`, any params
 * are accepted (`{}`).
 * @public
 */
export type ServiceStub =
  | ServiceHandler<never, unknown>
  | ({ handler: ServiceHandler<never, unknown> } & Partial<RegisterOptions>)

/** Options of {@link createMockHub}. @public */
export interface CreateMockHubOptions {
  /** The plugins under test. @defaultValue [] */
  plugins?: MockPlugin[]
  /** Per-plugin config keyed by plugin name, validated against each manifest's `config` schema. */
  config?: Record<string, unknown>
  /** Stubs of services the plugins call, keyed by service name (`'devices.list'`). */
  services?: Record<string, ServiceStub>
  /**
   * Plugins that must start: a failure in any rejects `createMockHub` (or `hub.start()`) with
   * the kernel's error naming the plugin, the step and the cause.
   * @defaultValue every plugin in `plugins` (pass `[]` to test degraded boots)
   */
  required?: string[]
  /** The clock the kernel runs on. @defaultValue a new {@link FakeClock} at 2025-01-01T00:00:00Z */
  clock?: FakeClock
  /** The storage; owned by the caller (not closed by `stop()`), e.g. to test a restart. @defaultValue a fresh in-memory storage, closed by `stop()` */
  storage?: Storage
  /** State namespaces the kernel persists into `storage` (restored on start). @defaultValue [] */
  persistState?: string[]
  /** Where the kernel and plugins log. @defaultValue a recording logger, read with `hub.logs()` */
  logger?: Logger
  /** Lifecycle step timeout(s), ms of the (fake) clock. @defaultValue 10_000 */
  lifecycleTimeoutMs?: number | LifecycleTimeouts
  /** Overall `stop()` deadline, ms of the (fake) clock. @defaultValue 30_000 */
  shutdownTimeoutMs?: number
  /**
   * Settings of the `worker` and `process` isolation levels (heap cap, heartbeat and watchdog
   * on real time, restarts, the folder of `process` plugins' data folders).
   * @defaultValue the kernel's, except `dataDir`: a fresh temporary folder that `stop()` removes
   */
  isolation?: IsolationOptions
  /** Start the kernel before resolving. @defaultValue true */
  start?: boolean
  /**
   * Real-time limit of `start()`, ms: with the fake clock, a plugin hanging in `setup` or
   * `start` never times out on its own, so the boot is abandoned after this long with `E_TIMEOUT`.
   * @defaultValue 5_000
   */
  bootTimeoutMs?: number
}

/** Options of {@link MockHub.expectEvent}. @public */
export interface ExpectEventOptions<T = unknown> {
  /** How long to wait, ms of real time (not the fake clock). @defaultValue 2_000 */
  timeoutMs?: number
  /**
   * Only events for which this holds: a predicate on the envelope, or an object that
   * `event.data` must contain (deep subset match: `{ id: 'lamp' }` matches `{ id: 'lamp', on: true }`).
   */
  where?: ((event: CloudEvent<T>) => boolean) | Record<string, unknown>
}

/** One service call seen by the mock hub (every call through the kernel's registry). @public */
export interface CallRecord {
  /** Service name as routed. */
  name: string
  /** Version chosen (or the range asked, for a remote call). */
  version: string
  /** Params as given (a structured copy taken when the call was made). */
  params: unknown
  /** The calling plugin (`meta.caller`), `undefined` for calls from the test itself. */
  caller: string | undefined
  /** `true` when the call resolved. */
  ok: boolean
  /** The result, when `ok`. */
  result?: unknown
  /** The error, when not `ok`. */
  error?: CoreError
  /** When the call was made, epoch ms of the hub's clock. */
  at: number
}

/** Options of {@link MockHub.expectCall}. @public */
export interface ExpectCallOptions {
  /** How long to wait, ms of real time. @defaultValue 2_000 */
  timeoutMs?: number
  /** Only calls for which this holds: a predicate on the record, or an object the params must contain (deep subset). */
  where?: ((call: CallRecord) => boolean) | Record<string, unknown>
}

/**
 * Acts as one plugin: through its own scoped `ctx`, so every call is permission-checked
 * against its manifest exactly as the plugin's own calls are (a refusal is `E_FORBIDDEN` and
 * counts in the plugin's `denials`). Reads the plugin's current context on each use, so it
 * follows reloads.
 * @public
 */
export interface PluginActor {
  /** The plugin's name. */
  readonly name: string
  /** The plugin's current scoped context (events, services, state, storage, timers, config…). */
  readonly ctx: PluginContext
  /** `ctx.services.call(service, params, options)`; `params` default `{}`. */
  call<R = unknown>(service: string, params?: unknown, options?: CallOptions): Promise<R>
  /** `ctx.events.publish(type, data, options)`; `data` default `{}`. */
  publish<T = unknown>(type: string, data?: T, options?: PublishOptions): Promise<PublishReport>
}

/**
 * An in-memory hub for tests: a real kernel on a fake clock and in-memory storage, with
 * recorders and helpers. See {@link createMockHub}.
 * @public
 */
export interface MockHub {
  /** The kernel underneath. */
  readonly kernel: Kernel
  /** The fake clock the kernel runs on. */
  readonly clock: FakeClock
  /** The kernel's bus (unrestricted). */
  readonly bus: EventBus
  /** The kernel's service registry (unrestricted). */
  readonly services: ServiceRegistry
  /** The kernel's state engine (unrestricted). */
  readonly state: StateEngine
  /** The kernel's storage (unrestricted). */
  readonly storage: Storage
  /** The kernel's plugin manager (`list`, `get`, `reload`…). */
  readonly plugins: PluginManager
  /** What the last `start()` reported; `undefined` before it. */
  readonly report: BootReport | undefined
  /** Starts the kernel (done by `createMockHub` unless `start: false`). */
  start(): Promise<BootReport>
  /** Stops the kernel and its plugins; idempotent. Pending `expect…` promises reject with `E_CANCELLED`. */
  stop(): Promise<StopReport>
  /** The kernel's health report. */
  health(): Promise<HealthReport>
  /** Acts as the plugin `name` (permission-checked). @throws E_NOT_FOUND when no such plugin was set up. */
  as(name: string): PluginActor
  /** Calls a service from outside any plugin (unrestricted, `meta.caller` unset); `params` default `{}`. */
  call<R = unknown>(service: string, params?: unknown, options?: CallOptions): Promise<R>
  /** Publishes an event from outside any plugin (source `/test`); `data` default `{}`. */
  publish<T = unknown>(type: string, data?: T, options?: PublishOptions): Promise<PublishReport>
  /** Registers a stub for a service (as the `services` option does). @returns its undo. */
  stub(name: string, stub: ServiceStub): Undo
  /** The events recorded since creation (or `clear()`), oldest first; only those matching `pattern` when given. */
  events<T = unknown>(pattern?: string): CloudEvent<T>[]
  /**
   * Resolves with the first event matching `pattern` (AMQP: `*` one word, `#` zero or more)
   * and `where` that no earlier `expectEvent` returned: already recorded, or the next to come.
   * @throws E_TIMEOUT after `timeoutMs` of real time, listing the event types seen; E_VALIDATION for a bad pattern.
   */
  expectEvent<T = unknown>(pattern: string, options?: ExpectEventOptions<T>): Promise<CloudEvent<T>>
  /** The service calls recorded (settled ones), oldest first; only those to `name` when given. */
  calls(name?: string): CallRecord[]
  /** Like {@link MockHub.expectEvent}, for settled service calls to `name`. */
  expectCall(name: string, options?: ExpectCallOptions): Promise<CallRecord>
  /** Log lines recorded by the default logger (all, or from `level` up). Empty with a custom `logger`. */
  logs(level?: LogLevel): LogRecord[]
  /** Forgets the recorded events, calls and log lines. */
  clear(): void
  /**
   * Waits until no event is queued for any subscriber and no service call is in flight
   * (gives up silently after 10,000 event-loop turns, e.g. when a call hangs on the fake clock).
   */
  settle(): Promise<void>
}
