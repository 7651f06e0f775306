import type { Codec, Encoded, ErrorJson, ServiceContextFields } from './codec.js'
import type { FunctionRef, Peer, PeerOptions, ServiceCallContext } from './peer-types.js'

export type {
  FunctionRef,
  Peer,
  PeerOptions,
  ServiceCallContext,
  SyncReply,
  SyncRequest,
} from './peer-types.js'

/**
 * Creates one side of the isolation RPC: a table of its own functions the other side may call
 * by id (handles), stubs for the other side's functions, calls in flight, and abort signals
 * that cross. Used by the host and, from its source text, by the worker: `createPeer` must
 * stay self-contained (no imports, no outer names).
 *
 * Wire: what one turn sends goes out as one flat array (one `postMessage` each way for a
 * burst of calls), entries one after the other, each a tag and fixed fields:
 * - `0` call: `id, fn, v, x` (the arguments, encoded) → answered by a `2`;
 * - `1` service call: `id, fn, v, x` (the params) and the handler context's fields `name,
 *   version, mv, mx` (meta, encoded), `caller, traceparent, deadlineAt` → answered by a `2`;
 * - `2` reply: `id, ok, v, x` (the result, encoded; for `ok` false `v` is the error's JSON);
 * - `3` any other message: one object, `free {fn}` (the other side's stub was
 *   garbage-collected), `abort {sig, e}` (a signal that crossed with a call's arguments; both
 *   sides forget it once the call is answered), `watch {id}` / `cabort {id, e}` (below).
 * Flat arrays because the structured clone pays per object and per property name: a burst of
 * 64 service calls and their replies as arrays of objects capped a bare worker round trip
 * here at ~0.26 M calls/s, as flat arrays at ~0.65 M/s. A lone object (`free`, `abort`, …)
 * is understood as well.
 *
 * A service call carries the handler context's fields, never the context object: the serving
 * side builds the context, whose `signal` is created only when the handler reads it; only then
 * does it ask for the caller's signal (`watch {id}`), and the calling side answers
 * `cabort {id, e}` if and when that signal aborts (at once when it already has). Creating and
 * reading a signal costs ~13 µs on Node 20, more than the rest of such a call.
 * @internal
 */
export function createPeer(codec: Codec, options: PeerOptions): Peer {
  type Fn = (...args: unknown[]) => unknown
  const CALL = 0
  const SERVICE = 1
  const RET = 2
  const MESSAGE = 3
  const SIZE = codec.entrySize
  const local = new Map<number, Fn>()
  /** Ids of local functions the other side may call synchronously (no others: see answerSync). */
  const syncLocal = new Set<number>()
  let nextLocal = 1
  interface Pending {
    resolve: (v: unknown) => void
    reject: (e: unknown) => void
    /** Signals that crossed with the arguments. */
    sigs: number[] | undefined
    /** A service call's context, until the other side watches its signal. */
    context: ServiceCallContext | undefined
    /** Stops mirroring a service call's signal. */
    unwatch: (() => void) | undefined
  }
  const pending = codec.idTable<Pending>()
  let nextCall = 1
  const localSignals = new Map<number, () => void>()
  let nextSignal = 1
  const remoteSignals = new Map<number, AbortController>()
  /** Stubs made by this side: their function ids on the other side. */
  const stubIds = new WeakMap<object, number>()
  /** Service handlers made of stubs (see serviceHandler), each keeping its stub alive. */
  const keepAlive = new WeakMap<object, unknown>()
  /** Service calls of the other side being served here: their handler's signal, once read. */
  const serving = codec.idTable<AbortController | undefined>()
  let closed = false
  const registry = new FinalizationRegistry<number>((id) => {
    if (!closed) safePost({ t: 'free', fn: id })
  })
  const safePost = (message: unknown): void => {
    try {
      options.post(message)
    } catch {
      // the other side is gone
    }
  }
  const cannotPass = (what: string, error: unknown): ErrorJson => ({
    name: 'CoreError',
    code: 'E_VALIDATION',
    message: `Cannot pass ${what} across the isolation boundary: ${codec.errorJson(error).message}`,
  })
  const forbidden = (message: string): ErrorJson => ({
    name: 'CoreError',
    code: 'E_FORBIDDEN',
    message,
  })

  /**
   * Service calls' `deadlineAt` slots in the outbox and their contexts: read when the batch
   * goes out, so that the registry stamps the whole batch with one clock reading, not one
   * per call.
   */
  let deadlines: unknown[] = []
  const { box } = codec.outbox({
    post: (batch) => {
      if (!closed) options.post(batch)
    },
    beforePost: (batch) => {
      const d = deadlines
      deadlines = []
      for (let i = 0; i < d.length; i += 2)
        batch[d[i] as number] = (d[i + 1] as ServiceCallContext).deadlineAt
    },
    refuse: (tag, id, error) => {
      if (tag === CALL || tag === SERVICE) {
        const p = pending.get(id as number)
        pending.delete(id as number)
        if (p === undefined) return
        release(p)
        p.reject(options.makeError(cannotPass('these arguments', error)))
      } else if (tag === RET)
        safePost([RET, id, false, cannotPass('this result', error), undefined])
    },
  })

  const exportValue = (value: unknown, sigs?: number[]): Encoded =>
    codec.encode(
      value,
      (fn) => {
        const id = nextLocal++
        local.set(id, fn)
        const sync = options.isSync?.(fn) === true
        if (sync) syncLocal.add(id)
        return { id, sync } satisfies FunctionRef
      },
      (signal) => {
        const id = nextSignal++
        if (signal.aborted) return { id, aborted: true, e: codec.errorJson(signal.reason) }
        const onAbort = (): void => {
          localSignals.delete(id)
          safePost({ t: 'abort', sig: id, e: codec.errorJson(signal.reason) })
        }
        signal.addEventListener('abort', onAbort, { once: true })
        localSignals.set(id, () => signal.removeEventListener('abort', onAbort))
        sigs?.push(id)
        return { id, aborted: false }
      },
    )

  const makeFunction = (payload: unknown): Fn => {
    const ref = payload as FunctionRef
    if (typeof ref !== 'object' || ref === null || typeof ref.id !== 'number')
      throw new TypeError('malformed function handle')
    const { id } = ref
    let stub: Fn
    if (ref.sync && options.callSync !== undefined) {
      const callSync = options.callSync
      stub = (...args: unknown[]) => {
        const reply = callSync({ fn: id, a: exportValue(args) })
        if (!reply.ok) throw options.makeError(reply.e as ErrorJson)
        return importValue(reply.r as Encoded)
      }
      if (typeof Symbol.dispose === 'symbol')
        Object.defineProperty(stub, Symbol.dispose, { value: stub })
    } else stub = (...args: unknown[]) => call(id, args)
    registry.register(stub, id)
    stubIds.set(stub, id)
    return stub
  }
  /** Signals received with the arguments of the call being decoded: forgotten once it is answered. */
  let receiving: number[] | undefined
  const makeSignal = (payload: unknown): AbortSignal => {
    const p = payload as { id: number; aborted: boolean; e?: ErrorJson }
    const controller = new AbortController()
    if (p.aborted) controller.abort(options.makeError(p.e as ErrorJson))
    else {
      remoteSignals.set(p.id, controller)
      receiving?.push(p.id)
    }
    return controller.signal
  }
  /** Decodes a value sent as its two parts `v` and `x` (see the codec). */
  const importParts = (v: unknown, x: unknown): unknown => {
    const value =
      x === undefined
        ? v
        : codec.decode({ v, x } as Encoded, makeFunction, options.makeError, makeSignal)
    return options.freeze ? codec.deepFreeze(value) : value
  }
  const importValue = (encoded: Encoded): unknown => {
    if (typeof encoded !== 'object' || encoded === null) throw new TypeError('malformed value')
    return importParts(encoded.v, encoded.x)
  }

  const call = (fn: number, args: unknown[]): Promise<unknown> =>
    new Promise((resolve, reject) => {
      if (closed) {
        reject(options.makeError({ name: 'CoreError', code: 'E_UNAVAILABLE', message: 'closed' }))
        return
      }
      const id = nextCall++
      const sigs: number[] = []
      try {
        const a = exportValue(args, sigs)
        pending.set(id, { resolve, reject, sigs, context: undefined, unwatch: undefined })
        box().push(CALL, id, fn, a.v, a.x)
      } catch (error) {
        pending.delete(id)
        releaseSignals(sigs)
        reject(options.makeError(cannotPass('these arguments', error)))
      }
    })

  const callService = (
    fn: number,
    params: unknown,
    context: ServiceCallContext,
  ): Promise<unknown> =>
    new Promise((resolve, reject) => {
      if (closed) {
        reject(options.makeError({ name: 'CoreError', code: 'E_UNAVAILABLE', message: 'closed' }))
        return
      }
      const id = nextCall++
      try {
        const p = exportValue(params)
        // no meta (the common case) crosses as nothing: one object less to clone
        const m = isEmpty(context.meta) ? NO_META : exportValue(context.meta)
        const { name, version, caller, traceparent } = context
        pending.set(id, { resolve, reject, sigs: undefined, context, unwatch: undefined })
        const out = box()
        // deadlineAt: filled in by flush
        const at = out.push(
          SERVICE,
          id,
          fn,
          p.v,
          p.x,
          name,
          version,
          m.v,
          m.x,
          caller,
          traceparent,
          0,
        )
        deadlines.push(at - 1, context)
      } catch (error) {
        pending.delete(id)
        reject(options.makeError(cannotPass('these arguments', error)))
      }
    })
  const NO_META: Encoded = { v: undefined }
  /** The meta a handler gets when the caller gave none (as the registry's). */
  const EMPTY_META = Object.freeze({})
  const isEmpty = (meta: unknown): boolean => {
    if (typeof meta !== 'object' || meta === null) return false
    if (Object.getPrototypeOf(meta) !== Object.prototype) return false
    for (const _ in meta) return false
    return true
  }
  const serviceHandler: Peer['serviceHandler'] = (stub) => {
    const fn = typeof stub === 'function' ? stubIds.get(stub) : undefined
    if (fn === undefined) return undefined
    const handler = (params: unknown, context: ServiceCallContext): Promise<unknown> =>
      callService(fn, params, context)
    keepAlive.set(handler, stub)
    return handler
  }

  /** The call was answered: stop mirroring its signals (the other side forgot them). */
  const releaseSignals = (sigs: number[]): void => {
    for (const sig of sigs) {
      localSignals.get(sig)?.()
      localSignals.delete(sig)
    }
  }
  const release = (p: Pending): void => {
    if (p.sigs !== undefined) releaseSignals(p.sigs)
    p.unwatch?.()
  }
  /** The other side's handler read its signal: mirror the caller's into it. */
  const watch = (id: number): void => {
    const p = pending.get(id)
    const context = p?.context
    if (p === undefined || context === undefined) return
    p.context = undefined
    let signal: AbortSignal
    try {
      signal = context.signal
    } catch {
      return
    }
    const cabort = (): void => safePost({ t: 'cabort', id, e: codec.errorJson(signal.reason) })
    if (signal.aborted) {
      cabort()
      return
    }
    signal.addEventListener('abort', cabort, { once: true })
    p.unwatch = () => signal.removeEventListener('abort', cabort)
  }

  const reply = (id: number, ok: boolean, value: unknown): void => {
    if (!ok) {
      box().push(RET, id, false, value, undefined)
      return
    }
    try {
      const r = exportValue(value)
      box().push(RET, id, true, r.v, r.x)
    } catch (error) {
      safePost([RET, id, false, cannotPass('this result', error), undefined])
    }
  }

  const onCall = (id: number, fnId: unknown, v: unknown, x: unknown): void => {
    const fn = typeof fnId === 'number' ? local.get(fnId) : undefined
    if (fn === undefined) {
      reply(id, false, forbidden(`No function #${String(fnId)} was handed to this side`))
      return
    }
    let args: unknown
    const signals: number[] = []
    try {
      receiving = signals
      args = importParts(v, x)
      if (!Array.isArray(args)) throw new TypeError('arguments are not an array')
    } catch (error) {
      reply(id, false, { ...forbidden(codec.errorJson(error).message), code: 'E_VALIDATION' })
      return
    } finally {
      receiving = undefined
    }
    const done = (ok: boolean, value: unknown): void => {
      for (const sig of signals) remoteSignals.delete(sig)
      reply(id, ok, value)
    }
    Promise.resolve()
      .then(() => fn(...(args as unknown[])))
      .then(
        (value) => done(true, value),
        (error: unknown) => done(false, codec.errorJson(error)),
      )
  }

  /** Serves a service call of the other side: `m[at]` is its `id` (see the module comment). */
  const onService = (m: unknown[], at: number): void => {
    const id = m[at] as number
    const fn = typeof m[at + 1] === 'number' ? local.get(m[at + 1] as number) : undefined
    if (fn === undefined) {
      reply(id, false, forbidden(`No function #${String(m[at + 1])} was handed to this side`))
      return
    }
    let params: unknown
    let meta: unknown
    try {
      params = importParts(m[at + 2], m[at + 3])
      meta = m[at + 6] === undefined ? EMPTY_META : importParts(m[at + 6], m[at + 7])
    } catch (error) {
      reply(id, false, { ...forbidden(codec.errorJson(error).message), code: 'E_VALIDATION' })
      return
    }
    serving.set(id, undefined)
    const fields: ServiceContextFields = [
      m[at + 4],
      m[at + 5],
      meta,
      m[at + 8],
      m[at + 9],
      m[at + 10],
    ]
    let out: unknown
    try {
      out = fn(params, codec.serviceContext(id, fields, signalOf))
    } catch (error) {
      served(id, false, codec.errorJson(error))
      return
    }
    if (
      out !== null &&
      (typeof out === 'object' || typeof out === 'function') &&
      typeof (out as { then?: unknown }).then === 'function'
    )
      Promise.resolve(out).then(
        (value) => served(id, true, value),
        (error: unknown) => served(id, false, codec.errorJson(error)),
      )
    else served(id, true, out)
  }
  const served = (id: number, ok: boolean, value: unknown): void => {
    serving.delete(id)
    reply(id, ok, value)
  }
  /** A served call's handler read its signal: watch the caller's (unless already answered). */
  const signalOf = (id: number): AbortController => {
    const controller = new AbortController()
    if (serving.has(id)) {
      serving.set(id, controller)
      box().push(MESSAGE, { t: 'watch', id })
    }
    return controller
  }

  const onReturn = (id: unknown, ok: unknown, v: unknown, x: unknown): void => {
    const p = typeof id === 'number' ? pending.get(id) : undefined
    if (p === undefined) return
    pending.delete(id as number)
    release(p)
    if (ok === true) {
      try {
        p.resolve(importParts(v, x))
      } catch (error) {
        p.reject(error)
      }
    } else p.reject(options.makeError(v as ErrorJson))
  }

  /** One object message: `free`, `abort`, `watch` or `cabort` (see the module comment). */
  const handleOne = (m: Record<string, unknown>): boolean => {
    switch (m.t) {
      case 'free':
        if (typeof m.fn === 'number') {
          local.delete(m.fn)
          syncLocal.delete(m.fn)
        }
        return true
      case 'abort': {
        const c = typeof m.sig === 'number' ? remoteSignals.get(m.sig) : undefined
        remoteSignals.delete(m.sig as number)
        c?.abort(options.makeError(m.e as ErrorJson))
        return true
      }
      case 'watch':
        if (typeof m.id === 'number') watch(m.id)
        return true
      case 'cabort': {
        const c = typeof m.id === 'number' ? serving.get(m.id) : undefined
        if (c !== undefined && !c.signal.aborted) c.abort(options.makeError(m.e as ErrorJson))
        return true
      }
      default:
        return false
    }
  }

  const handle = (message: unknown): boolean => {
    if (typeof message !== 'object' || message === null) return false
    if (!Array.isArray(message)) return handleOne(message as Record<string, unknown>)
    const m = message as unknown[]
    // A malformed entry ends the batch: what follows it cannot be told apart.
    for (let i = 0; i < m.length; ) {
      const tag = m[i]
      const size = typeof tag === 'number' ? SIZE[tag] : undefined
      if (size === undefined || i + size > m.length) return true
      const id = m[i + 1]
      if (tag === MESSAGE) {
        const one = m[i + 1]
        if (typeof one === 'object' && one !== null && !Array.isArray(one))
          handleOne(one as Record<string, unknown>)
      } else if (tag === RET) onReturn(id, m[i + 2], m[i + 3], m[i + 4])
      else if (typeof id !== 'number') return true
      else if (tag === CALL) onCall(id, m[i + 2], m[i + 3], m[i + 4])
      else onService(m, i + 1)
      i += size
    }
    return true
  }

  const localFunction: Peer['localFunction'] = (id) => {
    const fn = typeof id === 'number' ? local.get(id) : undefined
    return fn === undefined ? undefined : { fn, sync: syncLocal.has(id as number) }
  }
  const exportFunction: Peer['exportFunction'] = (fn, sync) => {
    const ref: FunctionRef = { id: nextLocal++, sync }
    local.set(ref.id, fn)
    if (sync) syncLocal.add(ref.id)
    return ref
  }

  const close = (error: Error): void => {
    closed = true
    for (const p of pending.values()) p.reject(error)
    pending.clear()
    local.clear()
    syncLocal.clear()
    for (const undo of localSignals.values()) undo()
    localSignals.clear()
    remoteSignals.clear()
    serving.clear()
  }

  return {
    exportValue,
    importValue,
    call,
    serviceHandler,
    handle,
    localFunction,
    exportFunction,
    close,
    size: () => local.size,
  }
}
