import {
  assertServiceName,
  type Clock,
  CoreError,
  type CoreErrorCode,
  cloneJson,
  createStderrLogger,
  type JsonSchema,
  type Logger,
  type ServiceDescriptor,
  systemClock,
  toCoreError,
  toShareable,
  type Undo,
  validationError,
} from '@core/contracts'
import semver from 'semver'
import { closestNames } from './closest.js'
import { DeadlineQueue } from './deadline-queue.js'
import { type LocalService, PendingCall, type Route } from './pending-call.js'
import { RemoteGuard } from './remote-guard.js'
import { type CompiledSchema, SchemaCompiler } from './schemas.js'
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
import { insertByVersion, parseVersion, pickHighest, RangeCache } from './versions.js'

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
        this.settleWith(call, this.dispatch(chain, call, 0))
      } else if (target !== undefined) this.invokeDirect(target, call)
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
    throw this.notFound(name, range, versions)
  }

  private notFound(
    name: string,
    range: string | undefined,
    versions: LocalService[] | undefined,
  ): CoreError {
    if (versions !== undefined) {
      const available = versions.map((s) => s.version)
      return new CoreError(
        'E_SERVICE_NOT_FOUND',
        `No version of service "${name}" satisfies "${range}"; registered: ${available.join(', ')}. Ask for a range that includes one of them`,
        { details: { service: name, version: range, available } },
      )
    }
    const closest = closestNames(name, this.services.keys())
    const hint =
      closest.length > 0
        ? `; did you mean ${closest.map((n) => `"${n}"`).join(' or ')}?`
        : '; no registered service has a similar name (is the plugin that provides it loaded?)'
    return new CoreError('E_SERVICE_NOT_FOUND', `No service "${name}" is registered${hint}`, {
      details: { service: name, closest },
    })
  }

  /** Steps 4-5 without middleware: no promise beyond the handler's own and its `then`. */
  private invokeDirect(target: LocalService, call: PendingCall): void {
    try {
      const out = target.handler(call.params, call.handlerContext())
      // (a thenable whose `then` throws lands in the catch below, as a handler failure)
      if (isThenable(out)) {
        out.then(
          (value) => finishLocal(target, call, value),
          (error: unknown) => this.failLocal(target, call, error),
        )
      } else finishLocal(target, call, out)
    } catch (error) {
      call.fail(handlerError(target, error))
    }
  }

  private failLocal(target: LocalService, call: PendingCall, error: unknown): void {
    if (call.settled) {
      this.logger.debug(
        { service: target.label, err: error },
        'handler failed after its call had ended',
      )
      return
    }
    call.fail(handlerError(target, error))
  }

  /** Steps 4-5 behind middleware: a promise of the validated result or a CoreError. */
  private async invokeLocal(target: LocalService, call: PendingCall): Promise<unknown> {
    let value: unknown
    try {
      value = await target.handler(call.params, call.handlerContext())
    } catch (error) {
      throw handlerError(target, error)
    }
    const result = target.result
    if (result !== undefined && !result.validate(value)) throw resultError(target, result)
    return shareResult(target, value)
  }

  private invokeRemote(call: PendingCall): Promise<unknown> {
    return (this.guard as RemoteGuard).run(call, () => this.sendRemote(call))
  }

  stats(): ServiceRegistryStats {
    return { remote: this.guard?.stats() ?? { retries: {}, circuits: [] } }
  }

  /** One attempt of a remote call; the request's `timeoutMs` is what is left of the deadline. */
  private sendRemote(call: PendingCall): Promise<unknown> {
    const transport = this.transport as RemoteTransport
    const deadlineAt = call.deadlineAt
    const request: RemoteCallRequest = {
      name: call.name,
      params: call.params,
      timeoutMs: Math.max(1, deadlineAt - this.clock.now()),
      deadlineAt,
      meta: call.meta,
    }
    if (call.version !== '*' || call.requestedRange !== undefined) request.version = call.version
    let pending: Promise<unknown>
    try {
      pending = transport.call(request, call.signal)
    } catch (error) {
      return Promise.reject(remoteError(call.name, error))
    }
    return Promise.resolve(pending).then(undefined, (error: unknown) => {
      throw remoteError(call.name, error)
    })
  }

  /** The innermost step behind middleware: re-route if asked, re-validate new params, invoke. */
  private terminal(call: PendingCall): Promise<unknown> {
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
      return this.invokeLocal(target, call)
    } catch (error) {
      return Promise.reject(error)
    }
  }

  /** Runs middleware `i` of `chain` (past the last: the terminal step). */
  private dispatch(
    chain: ReadonlyArray<{ fn: Middleware }>,
    call: PendingCall,
    i: number,
  ): Promise<unknown> {
    const route = call.route as Route
    if (i <= route.step) {
      return Promise.reject(
        new CoreError(
          'E_INTERNAL',
          `A middleware called next() more than once during the call to "${call.name}"`,
          {
            details: { service: call.name, middleware: i - 1 },
          },
        ),
      )
    }
    route.step = i
    const entry = chain[i]
    if (entry === undefined) return this.terminal(call)
    try {
      const out = entry.fn(call, () => this.dispatch(chain, call, i + 1))
      return isThenable(out)
        ? Promise.resolve(out).then(undefined, (error: unknown) => {
            throw this.middlewareError(call.name, i, error)
          })
        : Promise.resolve(out)
    } catch (error) {
      return Promise.reject(this.middlewareError(call.name, i, error))
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

  private middlewareError(name: string, index: number, error: unknown): CoreError {
    if (CoreError.is(error)) return error
    this.logger.warn({ service: name, middleware: index, err: error }, 'a middleware threw')
    return toCoreError(
      error,
      'E_INTERNAL',
      `Middleware #${index} failed during the call to "${name}"`,
    )
  }

  register(name: string, handler: ServiceHandler, options: RegisterOptions): Undo {
    assertServiceName(name)
    if (typeof handler !== 'function') {
      throw new CoreError(
        'E_VALIDATION',
        `Invalid handler of service "${name}": expected a function (params, context) => result`,
        { details: { service: name } },
      )
    }
    if (typeof options !== 'object' || options === null || options.params === undefined) {
      throw new CoreError(
        'E_VALIDATION',
        `Service "${name}" needs options with a params schema (a JSON Schema; use {} to accept anything)`,
        { details: { service: name } },
      )
    }
    const parsed = parseVersion(options.version ?? '1.0.0', name)
    const version = parsed.version
    const label = `${name}@${version}`
    const details = { service: name, version }
    const timeoutMs =
      options.timeoutMs === undefined
        ? this.defaultTimeoutMs
        : checkIntegerTimeout(options.timeoutMs, `timeoutMs of service "${label}"`)
    if (options.description !== undefined && typeof options.description !== 'string') {
      throw new CoreError(
        'E_VALIDATION',
        `Invalid description of service "${label}": expected a string`,
        {
          details,
        },
      )
    }
    if (options.idempotent !== undefined && typeof options.idempotent !== 'boolean') {
      throw new CoreError(
        'E_VALIDATION',
        `Invalid idempotent flag of service "${label}": expected true or false`,
        { details },
      )
    }
    const existing = this.services.get(name)
    if (existing?.some((s) => semver.compare(s.semver, parsed) === 0)) {
      throw new CoreError(
        'E_CONFLICT',
        `Service "${label}" is already registered; unregister it first, or register another version`,
        { details },
      )
    }
    const schemas = this.schemas
    const params = schemas.compile(options.params, `params schema of service "${label}"`, details)
    let result: CompiledSchema | undefined
    try {
      result =
        options.result === undefined
          ? undefined
          : schemas.compile(options.result, `result schema of service "${label}"`, details)
    } catch (error) {
      schemas.release(params)
      throw error
    }
    const service: LocalService = {
      name,
      version,
      semver: parsed,
      label,
      handler,
      params,
      result,
      timeoutMs,
      description: options.description,
      idempotent: options.idempotent ?? false,
    }
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

  async listAll(): Promise<ServiceDescriptor[]> {
    const local = this.list()
    const transport = this.transport
    if (transport?.list === undefined) return local
    let far: readonly ServiceDescriptor[]
    try {
      far = await transport.list()
    } catch (error) {
      throw asCoreError(error, 'E_UNAVAILABLE', 'Listing the remote services failed')
    }
    const seen = new Set(local.map((d) => `${d.name}@${d.version}`))
    for (const d of far) if (!seen.has(`${d.name}@${d.version}`)) local.push({ ...d })
    return local
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

  async serve(request: RemoteCallRequest, signal?: AbortSignal): Promise<RemoteReply> {
    try {
      if (typeof request !== 'object' || request === null) {
        throw new CoreError(
          'E_VALIDATION',
          'Invalid remote call request: expected an object { name, params, timeoutMs, deadlineAt, meta }',
        )
      }
      const result = await this.call(
        request.name,
        request.params,
        { version: request.version, timeoutMs: request.timeoutMs, meta: request.meta, signal },
        true,
      )
      return { ok: true, result }
    } catch (error) {
      return {
        ok: false,
        error: asCoreError(error, 'E_INTERNAL', 'Serving a remote call failed').toJSON(),
      }
    }
  }
}

/** Step 5 without middleware, then settle. */
function finishLocal(target: LocalService, call: PendingCall, value: unknown): void {
  if (call.settled) return
  const result = target.result
  if (result !== undefined && !result.validate(value)) {
    call.fail(resultError(target, result))
    return
  }
  let shared: unknown
  try {
    shared = shareResult(target, value)
  } catch (error) {
    call.fail(error as CoreError)
    return
  }
  call.succeed(shared)
}

/**
 * Params as the handler gets them: deep-frozen in place (no copy) or, when they hold binary
 * data or collections freezing cannot lock, a private structured clone. The caller and the
 * handler never share anything either can change.
 */
function shareParams(params: unknown, name: string): unknown {
  if (typeof params !== 'object' || params === null) return params
  return toShareable(params, `params of the call to "${name}"`)
}

/** The handler's result as the caller gets it, frozen (or copied) like {@link shareParams}. */
function shareResult(target: LocalService, value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value
  return toShareable(value, `result returned by service "${target.label}"`)
}

function describe(s: LocalService): ServiceDescriptor {
  const d: ServiceDescriptor = {
    name: s.name,
    version: s.version,
    params: cloneJson(s.params.schema) as JsonSchema,
    timeoutMs: s.timeoutMs,
    idempotent: s.idempotent,
  }
  if (s.description !== undefined) d.description = s.description
  if (s.result !== undefined) d.result = cloneJson(s.result.schema) as JsonSchema
  return d
}

function undoable(fn: () => void): Undo {
  let done = false
  const undo = (): void => {
    if (done) return
    done = true
    fn()
  }
  return Object.assign(undo, { [Symbol.dispose]: undo })
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  )
}

function paramsError(
  target: LocalService,
  errors: Parameters<typeof validationError>[1],
): CoreError {
  return validationError(`params of service "${target.label}"`, errors, {
    service: target.name,
    version: target.version,
  })
}

function resultError(target: LocalService, result: CompiledSchema): CoreError {
  const base = validationError(
    `result returned by service "${target.label}"`,
    result.validate.errors,
    {
      service: target.name,
      version: target.version,
      side: 'result',
    },
  )
  return new CoreError(
    'E_VALIDATION',
    `${base.message}. The service broke its own result schema: this is a fault of the service, not of the call; report it to the service's owner`,
    { details: { ...base.details } },
  )
}

function handlerError(target: LocalService, error: unknown): CoreError {
  return asCoreError(error, 'E_HANDLER', `Service "${target.label}" failed`)
}

/** A CoreError as it is (rebuilt when it came from another copy or as JSON); anything else wrapped. */
function asCoreError(error: unknown, code: CoreErrorCode, message: string): CoreError {
  if (error instanceof CoreError) return error
  if (CoreError.is(error) || isSerialized(error)) return CoreError.fromJSON(error)
  return toCoreError(error, code, message)
}

function remoteError(name: string, error: unknown): CoreError {
  if (error instanceof CoreError) return error
  if (CoreError.is(error) || isSerialized(error)) return CoreError.fromJSON(error)
  const reason = error instanceof Error ? error.message : String(error)
  return new CoreError(
    'E_UNAVAILABLE',
    `Remote call to "${name}" failed in the transport: ${reason}. The serving node may be unreachable; retry later`,
    { cause: error, details: { service: name } },
  )
}

function isSerialized(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false
  const v = value as { name?: unknown; code?: unknown; message?: unknown }
  return v.name === 'CoreError' && typeof v.code === 'string' && typeof v.message === 'string'
}

function cancelled(name: string, cause: unknown): CoreError {
  return new CoreError('E_CANCELLED', `Call to "${name}" was cancelled by the caller`, {
    cause,
    details: { service: name },
  })
}

function checkCallTimeout(value: unknown, name: string): number {
  if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value)) {
    throw new CoreError(
      'E_VALIDATION',
      `Invalid timeoutMs ${JSON.stringify(value)} for the call to "${name}": expected milliseconds, a finite number > 0`,
      { details: { service: name, timeoutMs: value } },
    )
  }
  return value
}

function checkIntegerTimeout(value: unknown, subject: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new CoreError(
      'E_VALIDATION',
      `Invalid ${subject} ${JSON.stringify(value)}: expected milliseconds, an integer ≥ 1`,
      {
        details: { timeoutMs: value },
      },
    )
  }
  return value
}
