import { CoreError, type CoreErrorCode, deepFreeze, isTraceparent } from '@core/contracts'
import type { SemVer } from 'semver'
import type { Deadline, DeadlineQueue } from './deadline-queue.js'
import type { CompiledSchema } from './schemas.js'
import type { CallContext, CallMeta, ServiceContext, ServiceHandler } from './types.js'

/** One registered service version, as the registry keeps it. @internal */
export interface LocalService {
  name: string
  version: string
  semver: SemVer
  /** `name@version`, for messages. */
  label: string
  handler: ServiceHandler
  params: CompiledSchema
  result: CompiledSchema | undefined
  timeoutMs: number
  description: string | undefined
  idempotent: boolean
}

/**
 * One call in flight: the context handed to middleware and handler, the deadline kept in the
 * registry's {@link DeadlineQueue}, and the settling of the caller's promise.
 *
 * Cheap on purpose: the AbortController is created only when someone reads `signal`; a call
 * that ends before anyone does never allocates one. Settling is first-wins: the result, an
 * error, the deadline or the caller’s cancel, whichever comes first; later ones are ignored
 * (the registry logs a late handler error at debug level).
 * @internal
 */
export class PendingCall implements CallContext, Deadline {
  // Fields are `declare`d and set in the constructor (no class-field initialisers): one
  // allocation of a fixed shape, cheap on the hot path.
  declare name: string
  declare version: string
  declare params: unknown
  declare meta: CallMeta
  declare readonly timeoutMs: number
  /** For the queue: epoch ms of the deadline, NaN until stamped (read `deadlineAt`). */
  declare due: number
  declare heapIndex: number
  /** True once the caller's promise is settled. */
  declare settled: boolean
  /** Why the call was aborted (E_TIMEOUT or E_CANCELLED), once it was. */
  declare reason: CoreError | undefined
  /** The local service chosen; undefined for a remote call. */
  declare target: LocalService | undefined
  /** The range the caller asked for, if any. */
  declare readonly requestedRange: string | undefined
  /** True for a call received from another node: never forwarded to the transport again. */
  declare readonly localOnly: boolean
  /** Set when middleware runs: what was routed and validated, and the next() guard. */
  declare route: Route | undefined
  declare private controller: AbortController | undefined
  declare private resolveCaller: (value: unknown) => void
  declare private rejectCaller: (error: unknown) => void
  declare private abortHook: AbortHook | undefined
  declare private readonly queue: DeadlineQueue
  /** Told how the call ended, when the registry has observers; with the start time it needs. */
  declare onEnd: ((call: PendingCall, outcome: 'ok' | CoreErrorCode) => void) | undefined
  declare startedAt: number

  constructor(
    queue: DeadlineQueue,
    name: string,
    version: string,
    params: unknown,
    meta: CallMeta,
    timeoutMs: number,
    target: LocalService | undefined,
    requestedRange: string | undefined,
    localOnly: boolean,
  ) {
    this.name = name
    this.version = version
    this.params = params
    this.meta = meta
    this.timeoutMs = timeoutMs
    this.due = Number.NaN
    this.heapIndex = -1
    this.settled = false
    this.reason = undefined
    this.target = target
    this.requestedRange = requestedRange
    this.localOnly = localOnly
    this.route = undefined
    this.controller = undefined
    this.resolveCaller = noop
    this.rejectCaller = noop
    this.abortHook = undefined
    this.queue = queue
    this.onEnd = undefined
    this.startedAt = 0
  }

  /** True when no local service serves the call and it goes through the remote transport. */
  get remote(): boolean {
    return this.target === undefined
  }

  /** Epoch milliseconds at which the call times out (stamps the call's batch if need be). */
  get deadlineAt(): number {
    if (Number.isNaN(this.due)) this.queue.settleDue(this)
    return this.due
  }

  /** The handler's signal, created on first read (already aborted if the call was). */
  get signal(): AbortSignal {
    let controller = this.controller
    if (controller === undefined) {
      controller = new AbortController()
      this.controller = controller
      if (this.reason !== undefined) controller.abort(this.reason)
    }
    return controller.signal
  }

  /**
   * The handler's view of this call: a frozen {@link HandlerContext} of the documented
   * {@link ServiceContext} fields. `meta` is a deep-frozen copy; the call itself is never
   * reachable from it.
   */
  handlerContext(): ServiceContext {
    const meta = this.meta
    let copy: Readonly<CallMeta> = EMPTY_META
    for (const _ in meta) {
      copy = { ...meta }
      deepFreeze(copy)
      break
    }
    return new HandlerContext(this, copy)
  }

  /** Starts the call: the caller's promise, the deadline and the caller's signal. */
  start(callerSignal: AbortSignal | undefined): Promise<unknown> {
    const promise = new Promise<unknown>(capture)
    this.resolveCaller = captured.resolve
    this.rejectCaller = captured.reject
    this.queue.add(this)
    if (callerSignal !== undefined) {
      const listener = (): void => this.cancel(callerSignal.reason)
      this.abortHook = { signal: callerSignal, listener }
      callerSignal.addEventListener('abort', listener, { once: true })
    }
    return promise
  }

  succeed(value: unknown): void {
    if (this.settled) return
    this.end()
    this.resolveCaller(value)
    if (this.onEnd !== undefined) this.onEnd(this, 'ok')
  }

  fail(error: CoreError): void {
    if (this.settled) return
    this.end()
    this.rejectCaller(error)
    if (this.onEnd !== undefined) this.onEnd(this, error.code)
  }

  /** The deadline passed (called by the queue, which has already dropped the call). */
  expire(): void {
    if (this.settled) return
    const what = this.remote
      ? `Remote call to "${this.name}"`
      : `Service "${this.name}@${this.version}"`
    this.abort(
      new CoreError(
        'E_TIMEOUT',
        `${what} did not answer within ${this.timeoutMs} ms; its signal was aborted. Retry later, or raise timeoutMs if the work is expected to take longer`,
        { details: { service: this.name, version: this.version, timeoutMs: this.timeoutMs } },
      ),
    )
  }

  /** The caller's signal fired. */
  cancel(cause: unknown): void {
    if (this.settled) return
    this.abort(
      new CoreError('E_CANCELLED', `Call to "${this.name}" was cancelled by the caller`, {
        cause,
        details: { service: this.name, version: this.version },
      }),
    )
  }

  private abort(reason: CoreError): void {
    this.end()
    this.reason = reason
    this.rejectCaller(reason)
    this.controller?.abort(reason)
    if (this.onEnd !== undefined) this.onEnd(this, reason.code)
  }

  private end(): void {
    this.settled = true
    this.queue.remove(this)
    const hook = this.abortHook
    if (hook !== undefined) {
      hook.signal.removeEventListener('abort', hook.listener)
      this.abortHook = undefined
    }
  }
}

/**
 * What a handler gets as its context. Own fields are frozen data (`name`, `version`, `meta`,
 * `caller`, `traceparent`); the prototype holds only the `signal` and `deadlineAt` getters, and
 * is itself frozen with a null prototype and no `constructor`, so prototype walking reaches
 * nothing. The call sits in an ECMAScript private field, which no reflection can read.
 *
 * Why not an object literal with getters: each such literal gets its own hidden class in V8;
 * measured here it made a call about 2.5× slower than this shared shape (see the issue-8 bench
 * notes in the package README).
 * @internal
 */
class HandlerContext implements ServiceContext {
  readonly #call: PendingCall
  declare readonly name: string
  declare readonly version: string
  declare readonly meta: Readonly<CallMeta>
  declare readonly caller: string | undefined
  declare readonly traceparent: string | undefined

  constructor(call: PendingCall, meta: Readonly<CallMeta>) {
    this.#call = call
    this.name = call.name
    this.version = call.version
    this.meta = meta
    const caller = meta.caller
    const traceparent = meta.traceparent
    this.caller = typeof caller === 'string' ? caller : undefined
    this.traceparent = isTraceparent(traceparent) ? traceparent : undefined
    Object.freeze(this)
  }

  get signal(): AbortSignal {
    return this.#call.signal
  }

  get deadlineAt(): number {
    return this.#call.deadlineAt
  }
}
// The prototype: only the two getters, frozen, no constructor, no Object.prototype behind it.
Reflect.deleteProperty(HandlerContext.prototype, 'constructor')
Object.setPrototypeOf(HandlerContext.prototype, null)
Object.freeze(HandlerContext.prototype)

/** What middleware may change, as it was before middleware ran, and the next() guard. @internal */
export interface Route {
  /** The last middleware index entered; guards against next() called twice. */
  step: number
  name: string
  version: string
  /** The params last validated against the target's schema. */
  params: unknown
}

interface AbortHook {
  signal: AbortSignal
  listener: () => void
}

const noop = (): void => {}

/** The `meta` of a handler context when the caller gave none. */
const EMPTY_META: Readonly<CallMeta> = Object.freeze({})

/** Where {@link capture} leaves a new promise's resolvers (saves a closure per call). */
const captured: { resolve: (value: unknown) => void; reject: (error: unknown) => void } = {
  resolve: () => {},
  reject: () => {},
}
/** A promise executor shared by every call: `new Promise(capture)` runs it synchronously. */
function capture(resolve: (value: unknown) => void, reject: (error: unknown) => void): void {
  captured.resolve = resolve
  captured.reject = reject
}
