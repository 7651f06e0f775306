import {
  assertServiceName,
  type Clock,
  CoreError,
  type CoreErrorCode,
  createStderrLogger,
  type Logger,
  type ServiceDescriptor,
  systemClock,
  type Undo,
} from '@core/contracts'
import {
  asCoreError,
  cancelled,
  checkCallTimeout,
  checkIntegerTimeout,
  notFound,
  paramsError,
} from './call-errors.js'
import { DeadlineQueue } from './deadline-queue.js'
import { invokeDirect, invokeLocal, shareParams } from './local-call.js'
import { dispatch } from './middleware-chain.js'
import { type LocalService, PendingCall, type Route } from './pending-call.js'
import { createLocalService, describe, undoable } from './registration.js'
import { listWithRemote, sendRemote, serveRemote } from './remote-call.js'
import { RemoteGuard } from './remote-guard.js'
import { SchemaCompiler } from './schemas.js'
import type {
  CallMeta,
  CallObserver,
  CallOptions,
  CallOutcome,
  CreateServiceRegistryOptions,
  Middleware,
  RegisterOptions,
  RemoteCallRequest,
  RemoteReply,
  RemoteTransport,
  ServiceHandler,
  ServiceRegistry,
  ServiceRegistryStats,
} from './types.js'
import { insertByVersion, pickHighest, RangeCache } from './versions.js'

/** Default deadline of a call, in milliseconds. @public */
export const DEFAULT_TIMEOUT_MS = 30_000

/**
 * Creates a service registry: services registered by `namespace.method` name and semver
 * version, called by name with JSON Schema-validated params, through middleware, under a
 * deadline, and routed to a remote transport when not served locally.
 *
 * A call runs, in this order:
 * 1. look up: the highest local version satisfying `options.version` (default: the highest);
 *    none → the remote transport if there is one, else `E_SERVICE_NOT_FOUND`;
 * 2. validate params against the service's `params` schema (compiled once, at register);
 * 3. middleware, in onion order (none: skipped entirely);
 * 4. the handler, as `handler(params, context)`, under the deadline: `min(options.timeoutMs,
 *    service timeoutMs)` milliseconds, counted from the start of the call, so it also covers
 *    middleware (with the system clock, from a clock reading taken by the end of the current
 *    event-loop turn: a deadline can be that much late, never early);
 * 5. validate the result against the `result` schema, when there is one.
 *
 * The call settles once, with whatever comes first: the result, an error, the deadline
 * (`E_TIMEOUT`, and the handler's `signal` aborts) or the caller's `signal` (`E_CANCELLED`, and
 * the handler's `signal` aborts). Deadlines share one timer.
 *
 * @param options - `defaultTimeoutMs` (30 000 ms), `clock` (systemClock), `logger` (stderr,
 *   warn+), `remote` (a {@link RemoteTransport}; default none).
 * @returns The {@link ServiceRegistry}.
 * @throws {@link @core/contracts!CoreError} `E_VALIDATION` when `defaultTimeoutMs` is not an integer ≥ 1.
 * @see semver 2.0.0 (node-semver ranges); JSON Schema 2020-12 (Ajv)
 * @example
 * ```ts
 * const services = createServiceRegistry()
 * services.register('lights.set', async (params: { on: boolean }) => ({ on: params.on }), {
 *   params: { type: 'object', properties: { on: { type: 'boolean' } }, required: ['on'] },
 *   version: '1.2.0',
 * })
 * const result = await services.call('lights.set', { on: true }, { version: '^1' })
 * ```
 * @public
 */
export function createServiceRegistry(options: CreateServiceRegistryOptions = {}): ServiceRegistry {
  const core = new Registry(options)
  // A facade of arrow functions: methods can be passed around or destructured.
  return {
    register: (name, handler, opts) => core.register(name, handler as ServiceHandler, opts),
    call: ((name: string, params: unknown, opts?: CallOptions) =>
      core.call(name, params, opts, false)) as ServiceRegistry['call'],
    has: (name, version) => core.has(name, version),
    list: () => core.list(),
    listAll: () => core.listAll(),
    use: (middleware) => core.use(middleware),
    observe: (observer) => core.observe(observer),
    serve: (request, signal) => core.serve(request, signal),
    stats: () => core.stats(),
  }
}

/**
 * The registry's state and pipeline. One class (rather than closures per registry) so that the
 * hot path is the same monomorphic code for every registry of the process.
 * @internal
 */
class Registry {
  private readonly clock: Clock
  private readonly logger: Logger
  private readonly defaultTimeoutMs: number
  private readonly transport: RemoteTransport | undefined
  private readonly guard: RemoteGuard | undefined
  private readonly services = new Map<string, LocalService[]>()
  private readonly schemas: SchemaCompiler = SchemaCompiler.get()
  private readonly ranges = new RangeCache()
  private readonly queue: DeadlineQueue
  /** The middleware, outermost first; undefined when there is none (the fast path). */
  private chain: ReadonlyArray<{ fn: Middleware }> | undefined = undefined
  /** The call observers; undefined when there is none (then calls are not timed). */
  private observers: ReadonlyArray<CallObserver> | undefined = undefined

  constructor(options: CreateServiceRegistryOptions) {
    this.clock = options.clock ?? systemClock
    this.logger = options.logger ?? createStderrLogger({ component: 'service-registry' })
    this.defaultTimeoutMs = checkIntegerTimeout(
      options.defaultTimeoutMs ?? DEFAULT_TIMEOUT_MS,
      'defaultTimeoutMs',
    )
    this.transport = options.remote
    this.guard =
      options.remote === undefined
        ? undefined
        : new RemoteGuard(this.clock, options.remote, options.remoteRetry, options.circuitBreaker)
    this.queue = new DeadlineQueue(this.clock, this.clock === systemClock)
  }

  call(
    name: string,
    params: unknown,
    options: CallOptions | undefined,
    localOnly: boolean,
  ): Promise<unknown> {
    try {
      let range: string | undefined
      let signal: AbortSignal | undefined
      let meta: CallMeta | undefined
      let timeoutMs: number | undefined
      if (options !== undefined) {
        range = options.version
        signal = options.signal
        meta = options.meta
        timeoutMs = options.timeoutMs
        if (signal?.aborted) throw cancelled(name, signal.reason)
        if (timeoutMs !== undefined) timeoutMs = checkCallTimeout(timeoutMs, name)
        if (meta !== undefined && (typeof meta !== 'object' || meta === null)) {
          throw new CoreError(
            'E_VALIDATION',
            `Invalid meta of the call to "${name}": expected an object`,
            {
              details: { service: name },
            },
          )
        }
      }
      const target = this.resolve(name, range, localOnly)
      let call: PendingCall
      if (target === undefined) {
        const ms = timeoutMs ?? this.defaultTimeoutMs
        params = shareParams(params, name)
        call = new PendingCall(
          this.queue,
          name,
          range ?? '*',
          params,
          meta ?? {},
          ms,
          undefined,
          range,
          localOnly,
        )
      } else {
        const validate = target.params.validate
        if (!validate(params)) throw paramsError(target, validate.errors)
        params = shareParams(params, name)
        const ms =
          timeoutMs === undefined || timeoutMs > target.timeoutMs ? target.timeoutMs : timeoutMs
        call = new PendingCall(
          this.queue,
          name,
          target.version,
          params,
          meta ?? {},
          ms,
          target,
          range,
          localOnly,
        )
      }
      if (this.observers !== undefined) {
        call.onEnd = this.notify
        call.startedAt = performance.now()
      }
      const promise = call.start(signal)
      const chain = this.chain
      if (chain !== undefined) {
        call.route = { step: -1, name: call.name, version: call.version, params }
        this.settleWith(call, dispatch(chain, call, 0, this.terminal, this.logger))
      } else if (target !== undefined) invokeDirect(target, call, this.logger)
      else this.settleWith(call, this.invokeRemote(call))
      return promise
    } catch (error) {
      return Promise.reject(error)
    }
  }

  /** Step 1: the local service for `name` and `range`; undefined = go remote. */
  private resolve(
    name: string,
    range: string | undefined,
    localOnly: boolean,
  ): LocalService | undefined {
    const versions = this.services.get(name)
    if (versions !== undefined) {
      if (range === undefined) return versions[0]
      const hit = pickHighest(versions, this.ranges.get(range, name))
      if (hit !== undefined) return hit
    } else {
      assertServiceName(name)
      if (range !== undefined) this.ranges.get(range, name)
    }
    if (this.transport !== undefined && !localOnly) return undefined
    throw notFound(name, range, versions, this.services.keys())
  }

  private invokeRemote(call: PendingCall): Promise<unknown> {
    return (this.guard as RemoteGuard).run(call, () =>
      sendRemote(this.transport as RemoteTransport, this.clock, call),
    )
  }

  stats(): ServiceRegistryStats {
    return { remote: this.guard?.stats() ?? { retries: {}, circuits: [] } }
  }

  /** The innermost step behind middleware: re-route if asked, re-validate new params, invoke. */
  private readonly terminal = (call: PendingCall): Promise<unknown> => {
    try {
      if (call.reason !== undefined) throw call.reason
      const route = call.route as Route
      let target = call.target
      if (call.name !== route.name || call.version !== route.version) {
        const range = call.version !== route.version ? call.version : call.requestedRange
        const wasRemote = target === undefined
        target = this.resolve(
          call.name,
          wasRemote && range === '*' ? undefined : range,
          call.localOnly,
        )
        call.target = target
        if (target !== undefined) call.version = target.version
        route.name = call.name
        route.version = call.version
        route.params = undefined
      }
      if (target === undefined) return this.invokeRemote(call)
      if (call.params !== route.params) {
        const validate = target.params.validate
        if (!validate(call.params)) throw paramsError(target, validate.errors)
        call.params = shareParams(call.params, call.name)
        route.params = call.params
      }
      return invokeLocal(target, call)
    } catch (error) {
      return Promise.reject(error)
    }
  }

  private settleWith(call: PendingCall, promise: Promise<unknown>): void {
    promise.then(
      (value) => call.succeed(value),
      (error: unknown) => {
        if (call.settled) {
          if (error !== call.reason) {
            this.logger.debug({ service: call.name, err: error }, 'call failed after it had ended')
          }
          return
        }
        call.fail(asCoreError(error, 'E_INTERNAL', `The call to "${call.name}" failed`))
      },
    )
  }

  register(name: string, handler: ServiceHandler, options: RegisterOptions): Undo {
    const existing = this.services.get(name)
    const schemas = this.schemas
    const service = createLocalService(
      name,
      handler,
      options,
      this.defaultTimeoutMs,
      schemas,
      existing,
    )
    const list = existing ?? []
    insertByVersion(list, service)
    if (existing === undefined) this.services.set(name, list)
    return undoable(() => {
      const current = this.services.get(name)
      const i = current === undefined ? -1 : current.indexOf(service)
      if (current === undefined || i === -1) return
      current.splice(i, 1)
      if (current.length === 0) this.services.delete(name)
      schemas.release(service.params)
      schemas.release(service.result)
    })
  }

  has(name: string, version?: string): boolean {
    const versions = this.services.get(name)
    if (version === undefined) return versions !== undefined
    const range = this.ranges.get(version, name)
    return versions !== undefined && pickHighest(versions, range) !== undefined
  }

  list(): ServiceDescriptor[] {
    const out: ServiceDescriptor[] = []
    for (const name of [...this.services.keys()].sort()) {
      for (const s of this.services.get(name) ?? []) out.push(describe(s))
    }
    return out
  }

  listAll(): Promise<ServiceDescriptor[]> {
    return listWithRemote(this.list(), this.transport)
  }

  use(middleware: Middleware): Undo {
    if (typeof middleware !== 'function') {
      throw new CoreError(
        'E_VALIDATION',
        'A middleware is a function (context, next) => Promise<result>',
        {
          details: { received: typeof middleware },
        },
      )
    }
    const entry = { fn: middleware }
    this.chain = [...(this.chain ?? []), entry]
    return undoable(() => {
      const chain = this.chain
      if (chain === undefined || !chain.includes(entry)) return
      const rest = chain.filter((m) => m !== entry)
      this.chain = rest.length === 0 ? undefined : rest
    })
  }

  observe(observer: CallObserver): Undo {
    if (typeof observer !== 'function') {
      throw new CoreError('E_VALIDATION', 'An observer is a function (outcome) => void', {
        details: { received: typeof observer },
      })
    }
    this.observers = [...(this.observers ?? []), observer]
    return undoable(() => {
      const rest = (this.observers ?? []).filter((o) => o !== observer)
      this.observers = rest.length === 0 ? undefined : rest
    })
  }

  /** Tells every observer how `call` ended (set as the call's `onEnd` when there are observers). */
  private readonly notify = (call: PendingCall, outcome: 'ok' | CoreErrorCode): void => {
    const observers = this.observers
    if (observers === undefined) return
    const event: CallOutcome = {
      name: call.name,
      version: call.version,
      outcome,
      durationMs: performance.now() - call.startedAt,
      remote: call.remote,
    }
    for (const observer of observers) {
      try {
        observer(event)
      } catch (error) {
        this.logger.warn({ service: call.name, err: error }, 'a call observer threw')
      }
    }
  }

  serve(request: RemoteCallRequest, signal?: AbortSignal): Promise<RemoteReply> {
    return serveRemote(
      (name, params, options) => this.call(name, params, options, true),
      request,
      signal,
    )
  }
}
