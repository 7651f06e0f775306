import type {
  Clock,
  CoreErrorCode,
  JsonSchema,
  Logger,
  SerializedCoreError,
  ServiceDescriptor,
  Undo,
} from '@core/contracts'

/**
 * A JSON Schema 2020-12 document as an object: written by hand (`{ type: 'number' }`) or built
 * with TypeBox (`Type.Object(…)`), whose interfaces have no index signature, hence `object`.
 * @public
 */
export type SchemaObject = JsonSchema | object

/**
 * Free-form data the caller attaches to a call (trace context, the calling plugin, an auth
 * subject…). Handed to middleware and handler as given; carried to a remote node by the
 * transport, so keep it JSON.
 * @public
 */
export type CallMeta = Record<string, unknown>

/**
 * What a handler receives next to its params: a frozen object of the fields below and nothing
 * else. Its own properties are data; `signal` and `deadlineAt` are getters on a shared, frozen
 * prototype that has no prototype of its own and no `constructor`. Nothing of the registry is
 * reachable through it: not the call in flight, not other calls, not the caller's promise.
 *
 * - `name` / `version`: the service and the exact version chosen for this call;
 * - `signal`: aborted when the deadline passes (reason: the `E_TIMEOUT` CoreError) or the
 *   caller cancels (reason: the `E_CANCELLED` CoreError); created on first read;
 * - `deadlineAt`: when the call times out, epoch milliseconds of the registry's clock;
 * - `meta`: a deep-frozen copy of the caller's {@link CallMeta} (as left by middleware);
 * - `caller`: `meta.caller` when it is a string (the kernel sets the calling plugin's name,
 *   the HTTP adapter `"http"`), else `undefined`;
 * - `traceparent`: `meta.traceparent` when it is a W3C traceparent, else `undefined`.
 * @see W3C Trace Context, "traceparent Header"
 * @public
 */
export interface ServiceContext {
  readonly name: string
  readonly version: string
  readonly signal: AbortSignal
  readonly deadlineAt: number
  readonly meta: Readonly<CallMeta>
  readonly caller: string | undefined
  readonly traceparent: string | undefined
}

/**
 * A service's implementation: called as `handler(params, context)` with params that passed
 * the `params` schema. Its return value (or what its promise resolves to) is the result.
 * Throw a {@link @core/contracts!CoreError} to refuse with a code of your choice; anything else thrown
 * reaches the caller as `E_HANDLER`.
 * @public
 */
export type ServiceHandler<P = unknown, R = unknown> = (
  params: P,
  context: ServiceContext,
) => R | Promise<R>

/**
 * The call as middleware sees it. `name`, `version`, `params` and `meta` may be changed
 * before calling `next()`:
 *
 * - new `params` (another object) are validated again against the target's schema;
 * - a new `name` or `version` re-routes the call: `version` is then read as a semver range and
 *   the service is looked up again (locally first, then through the remote transport);
 * - `meta` is passed on to the handler (and to the remote node) as it is when `next()` runs.
 *
 * `version` is the exact version chosen for a local service, and for a remote one the range the
 * caller asked for (`*` when none). `signal`, `deadlineAt` and `timeoutMs` are the call's
 * deadline, which also runs while middleware runs.
 * @public
 */
export interface CallContext {
  name: string
  version: string
  params: unknown
  meta: CallMeta
  /** Aborted on deadline (`E_TIMEOUT`) or caller cancel (`E_CANCELLED`). */
  readonly signal: AbortSignal
  /** Epoch milliseconds at which the call times out. */
  readonly deadlineAt: number
  /** The deadline's length in milliseconds, as applied to this call. */
  readonly timeoutMs: number
  /** True when no local service serves the call and it goes through the remote transport. */
  readonly remote: boolean
}

/**
 * A call middleware, run in onion order (the first `use`d is outermost). Call `next()` once to
 * go on to the next middleware or the handler; its promise holds the (validated) result or
 * rejects with a CoreError. What a middleware returns is what the caller gets.
 * A non-CoreError thrown by a middleware reaches the caller as `E_INTERNAL`.
 * @public
 */
export type Middleware = (context: CallContext, next: () => Promise<unknown>) => Promise<unknown>

/** Options of {@link ServiceRegistry.register}. @public */
export interface RegisterOptions {
  /** JSON Schema 2020-12 of the params (a TypeBox schema works as is). Use `{}` to accept anything. */
  params: SchemaObject
  /** JSON Schema 2020-12 of the result; when set, every result is checked against it. */
  result?: SchemaObject
  /** Semver version of this implementation. @defaultValue '1.0.0' */
  version?: string
  /** Deadline of each call in milliseconds, integer ≥ 1. @defaultValue the registry's `defaultTimeoutMs` */
  timeoutMs?: number
  /** One line for people and for OpenAPI. */
  description?: string
  /** Safe to retry: calling twice with the same params has the effect of calling once. @defaultValue false */
  idempotent?: boolean
}

/** Options of {@link ServiceRegistry.call}. @public */
export interface CallOptions {
  /**
   * Deadline in milliseconds (> 0). It can shorten the service's own `timeoutMs`, never extend it.
   * @defaultValue the service's `timeoutMs` (remote: the registry's `defaultTimeoutMs`)
   */
  timeoutMs?: number
  /** Semver range of acceptable versions; the highest satisfying one is called. @defaultValue the highest registered */
  version?: string
  /** Aborting it cancels the call with `E_CANCELLED` and aborts the handler's signal. */
  signal?: AbortSignal
  /** Data passed to middleware and handler as `context.meta`. @defaultValue `{}` */
  meta?: CallMeta
}

/**
 * A call sent to another node through a {@link RemoteTransport}: everything the serving node
 * needs, JSON only.
 * @public
 */
export interface RemoteCallRequest {
  /** Service name, `namespace.method`. */
  name: string
  /** The params as the caller gave them (the serving node validates them). */
  params: unknown
  /** Semver range of acceptable versions; absent = the highest. */
  version?: string
  /** Milliseconds left before the caller gives up; the serving node uses it as its deadline. */
  timeoutMs: number
  /** The caller's deadline, epoch milliseconds of the caller's clock (for logs; clocks differ). */
  deadlineAt: number
  /** The caller's {@link CallMeta}. */
  meta: CallMeta
}

/**
 * What {@link ServiceRegistry.serve} resolves with, ready to be sent back as JSON:
 * the result, or the error in its {@link SerializedCoreError} form.
 * @public
 */
export type RemoteReply = { ok: true; result: unknown } | { ok: false; error: SerializedCoreError }

/**
 * The routing seam to other nodes. A registry with a transport sends it every call it cannot
 * serve locally (no service of that name, or no local version satisfying the range): local
 * always wins.
 *
 * A transport (the RabbitMQ one of `@core/mindbus`, or an in-memory one in tests):
 *
 * - `call(request, signal)`: delivers `request` to a node that serves `request.name` and
 *   resolves with its result. On the serving node it hands the request to that node's
 *   {@link ServiceRegistry.serve} and sends back the {@link RemoteReply}. A reply with
 *   `ok: false` is rejected with its `error` as received (the serialised CoreError, or a
 *   CoreError rebuilt with `CoreError.fromJSON`); the registry rebuilds it, so the caller sees
 *   the remote code, message and details. Any other rejection reaches the caller as
 *   `E_UNAVAILABLE` with the rejection as `cause`.
 * - `signal` is aborted when the caller's deadline passes or the caller cancels; the transport
 *   should stop waiting and tell the serving node (which then aborts its handler's signal).
 *   The registry enforces the deadline itself, so a transport that ignores `signal` is late,
 *   never wrong.
 * - `request.timeoutMs` is the time left when the request leaves; a transport that queues
 *   messages should set the message's expiry from it and lower it by the time spent in
 *   transit before calling `serve`.
 * - `list()` (optional): descriptors of the services reachable through it, with `node` set;
 *   {@link ServiceRegistry.listAll} merges them with the local ones.
 * @public
 */
export interface RemoteTransport {
  call(request: RemoteCallRequest, signal: AbortSignal): Promise<unknown>
  list?(): readonly ServiceDescriptor[] | Promise<readonly ServiceDescriptor[]>
}

/** Options of {@link createServiceRegistry}. @public */
export interface CreateServiceRegistryOptions {
  /** Deadline of a call when neither the service nor the caller sets one, in milliseconds. @defaultValue 30_000 */
  defaultTimeoutMs?: number
  /** Time source for deadlines (a fake clock in tests and in the mock hub). @defaultValue systemClock */
  clock?: Clock
  /** Where failures nobody else sees are logged (late handler errors, failing middleware, schema warnings). @defaultValue a stderr logger (warn+) */
  logger?: Logger
  /** The transport for services not served locally. @defaultValue none: such calls fail with `E_SERVICE_NOT_FOUND` */
  remote?: RemoteTransport
  /**
   * Retries of remote calls to services that declare themselves idempotent (their descriptor
   * in the transport's `list()` says `idempotent: true`), after `E_UNAVAILABLE` or `E_TIMEOUT`
   * only, within the call's deadline. `false`: never retry. @defaultValue `{ attempts: 3 }`
   */
  remoteRetry?: RemoteRetryOptions | false
  /**
   * A circuit breaker per remote target (the service's namespace). `false`: none.
   * @defaultValue `{ failureThreshold: 5, resetTimeoutMs: 10_000 }`
   */
  circuitBreaker?: CircuitBreakerOptions | false
}

/**
 * Retries of remote calls (see {@link CreateServiceRegistryOptions.remoteRetry}). Attempt `n`
 * waits a random delay in `[0, min(maxDelayMs, baseDelayMs × 2^(n-1))]` ("full jitter"); a
 * retry whose delay would pass the call's deadline is not made.
 * @public
 */
export interface RemoteRetryOptions {
  /** Attempts in all, the first included; an integer ≥ 1. @defaultValue 3 */
  attempts?: number
  /** Backoff base, in milliseconds. @defaultValue 50 */
  baseDelayMs?: number
  /** Backoff cap, in milliseconds. @defaultValue 1_000 */
  maxDelayMs?: number
  /** How long the transport's `list()` answer (which says who is idempotent) is reused, in milliseconds. @defaultValue 10_000 */
  refreshMs?: number
}

/**
 * The circuit breaker of each remote target (see {@link CreateServiceRegistryOptions.circuitBreaker}):
 * `closed` lets calls through; after `failureThreshold` consecutive `E_UNAVAILABLE`/`E_TIMEOUT`
 * failures it is `open` and refuses calls at once with `E_UNAVAILABLE`; after `resetTimeoutMs` it
 * is `half-open` and lets one trial call through, whose success closes it and whose failure
 * opens it again. Any other outcome (a result, another error code) counts as success.
 * @public
 */
export interface CircuitBreakerOptions {
  /** Consecutive failures that open the circuit; an integer ≥ 1. @defaultValue 5 */
  failureThreshold?: number
  /** Time an open circuit waits before a trial call, in milliseconds (≥ 1). @defaultValue 10_000 */
  resetTimeoutMs?: number
}

/** State of a remote target's circuit breaker. @public */
export type CircuitState = 'closed' | 'open' | 'half-open'

/** Counters of a service registry, for metrics (`services.stats()`). @public */
export interface ServiceRegistryStats {
  remote: {
    /** Retries made, by service name. */
    retries: Record<string, number>
    /**
     * Circuit breakers, by remote target (namespace): `state`, consecutive `failures`, times
     * `opened`, calls `rejected` while open.
     */
    circuits: Array<{
      target: string
      state: CircuitState
      failures: number
      opened: number
      rejected: number
    }>
  }
}

/**
 * The service registry: register services, call them by name and version, add middleware.
 * Made by {@link createServiceRegistry}; its methods may be destructured.
 * @public
 */
export interface ServiceRegistry {
  /**
   * Registers `handler` as `name` at `options.version` (default `1.0.0`). The schemas are copied
   * and compiled now; calls validate against these copies.
   * @param name - `namespace.method`, e.g. `lights.set`.
   * @param handler - Called as `handler(params, context)`.
   * @param options - `params` (required), `result`, `version`, `timeoutMs`, `description`, `idempotent`.
   * @returns Its undo (also `Disposable`): unregisters this version; calls already running go on.
   * @throws {@link @core/contracts!CoreError} `E_VALIDATION` for a bad name, handler, version, timeout, flag or schema.
   * @throws {@link @core/contracts!CoreError} `E_CONFLICT` when `name@version` is already registered (build
   *   metadata does not count: `1.0.0+a` and `1.0.0+b` are the same version).
   * @see semver 2.0.0; JSON Schema 2020-12
   * @example
   * ```ts
   * const undo = services.register('lights.set', async ({ on }: { on: boolean }, { signal }) => ({ on }), {
   *   params: { type: 'object', properties: { on: { type: 'boolean' } }, required: ['on'] },
   *   result: { type: 'object' },
   *   version: '1.2.0',
   *   timeoutMs: 2_000,
   * })
   * undo() // or: using _ = services.register(…)
   * ```
   */
  register<P = unknown, R = unknown>(
    name: string,
    handler: ServiceHandler<P, R>,
    options: RegisterOptions,
  ): Undo
  /**
   * Calls `name` with `params` and resolves with its result. Never throws synchronously: every
   * refusal is a rejected promise carrying a {@link @core/contracts!CoreError}.
   * @param name - `namespace.method`.
   * @param params - Validated against the chosen version's `params` schema.
   * @param options - `version` (semver range), `timeoutMs`, `signal`, `meta`.
   * @throws {@link @core/contracts!CoreError} `E_SERVICE_NOT_FOUND` no local service (nor a transport) serves it;
   *   the message names the closest registered names, or the versions there are.
   * @throws {@link @core/contracts!CoreError} `E_VALIDATION` bad params (Ajv paths in `details.errors`), a result
   *   that breaks the service's own result schema (`details.side: 'result'`), or bad options.
   * @throws {@link @core/contracts!CoreError} `E_TIMEOUT` the deadline passed; the handler's signal was aborted.
   * @throws {@link @core/contracts!CoreError} `E_CANCELLED` the caller's `signal` aborted; so was the handler's.
   * @throws {@link @core/contracts!CoreError} `E_HANDLER` the handler threw something that is not a CoreError (`cause`).
   * @throws {@link @core/contracts!CoreError} `E_INTERNAL` a middleware threw something that is not a CoreError.
   * @throws {@link @core/contracts!CoreError} `E_UNAVAILABLE` the remote transport failed.
   * @throws The handler's (or a middleware's, or the remote node's) own CoreError, unchanged.
   * @example
   * ```ts
   * const state = await services.call('lights.set', { on: true }, { version: '^1', timeoutMs: 500 })
   * ```
   */
  call<R = unknown>(name: string, params: unknown, options?: CallOptions): Promise<R>
  /**
   * True when a local service `name` has a version satisfying `version` (a semver range;
   * default any). Remote services are not consulted.
   * @throws {@link @core/contracts!CoreError} `E_VALIDATION` when `version` is not a semver range.
   */
  has(name: string, version?: string): boolean
  /**
   * Descriptors of the local services (name, version, description, params and result schemas,
   * timeoutMs, idempotent), by name, highest version first; fresh copies, for OpenAPI 3.1.
   * @see OpenAPI 3.1 (operations are generated from these)
   */
  list(): ServiceDescriptor[]
  /**
   * {@link ServiceRegistry.list} followed by the transport's descriptors (with `node`) of the
   * services not served locally.
   * @throws {@link @core/contracts!CoreError} `E_UNAVAILABLE` when the transport's `list()` fails.
   */
  listAll(): Promise<ServiceDescriptor[]>
  /**
   * Adds a middleware, inside those added before (the first added is outermost).
   * @returns Its undo (also `Disposable`); calls already running keep the chain they started with.
   * @throws {@link @core/contracts!CoreError} `E_VALIDATION` when `middleware` is not a function.
   * @example
   * ```ts
   * services.use(async (ctx, next) => {
   *   const started = Date.now()
   *   try { return await next() } finally { console.log(ctx.name, Date.now() - started, 'ms') }
   * })
   * ```
   */
  use(middleware: Middleware): Undo
  /**
   * Adds an observer, told once when each call ends: its service name and version, how it ended
   * and how long it took. For metrics and tracing; unlike a middleware it cannot change the call,
   * so the call keeps the direct (no-middleware) path. An observer that throws is logged and
   * ignored. Calls that end after the undo are not reported.
   * @returns Its undo (also `Disposable`).
   * @throws {@link @core/contracts!CoreError} `E_VALIDATION` when `observer` is not a function.
   * @example
   * ```ts
   * services.observe(({ name, outcome, durationMs }) => histogram.observe({ name, outcome }, durationMs / 1000))
   * ```
   */
  observe(observer: CallObserver): Undo
  /**
   * Serves a call received from another node: runs it locally (never forwarding it again) with
   * `request.timeoutMs` as the caller's deadline and `signal` as its cancel, and resolves with
   * the {@link RemoteReply} to send back. Never rejects.
   */
  serve(request: RemoteCallRequest, signal?: AbortSignal): Promise<RemoteReply>
  /** A copy of the registry's remote-path counters (retries, circuit breakers), for metrics. */
  stats(): ServiceRegistryStats
}

/** How a call ended, as a {@link CallObserver} sees it. @public */
export interface CallOutcome {
  /** The service name called. */
  name: string
  /** The version that served it (the requested range, or `*`, for a remote call). */
  version: string
  /** `ok`, or the CoreError code the caller got (`E_TIMEOUT`, `E_VALIDATION`, `E_HANDLER`…). */
  outcome: 'ok' | CoreErrorCode
  /** From the start of the call to its end, in milliseconds (`performance.now()` resolution). */
  durationMs: number
  /** True when the call went through the remote transport. */
  remote: boolean
}

/** Told when each call ends; see {@link ServiceRegistry.observe}. @public */
export type CallObserver = (outcome: CallOutcome) => void
