import type { Codec, Encoded, ErrorJson } from './codec.js'

/**
 * One side of the isolation RPC: a table of its own functions the other side may call by id
 * (handles), stubs for the other side's functions, calls in flight, and abort signals that
 * cross. Used by the host and, from its source text, by the worker: `createPeer` must stay
 * self-contained (no imports, no outer names).
 *
 * Messages: `call {id, fn, a}` → `ret {id, ok, r | e}`; `free {fn}` (the other side's stub
 * was garbage-collected); `abort {sig, e}` for a signal that crossed with a call's arguments
 * (both sides forget it once the call is answered).
 * @internal
 */

/** A function handle as it crosses: its id and whether the caller must block on it. @internal */
export interface FunctionRef {
  id: number
  sync: boolean
}

/** A synchronous call's request and reply (on the sync port). @internal */
export interface SyncRequest {
  id: number
  fn: number
  a: Encoded
}
/** @internal */
export interface SyncReply {
  id: number
  ok: boolean
  r?: Encoded
  e?: ErrorJson
}

/** What {@link createPeer} needs from its side. @internal */
export interface PeerOptions {
  /** Posts a message to the other side (may throw a DataCloneError). */
  post(message: unknown): void
  /** Rebuilds an error received from the other side. */
  makeError(json: ErrorJson): Error
  /** Whether a local function must be called synchronously by the other side. */
  isSync?(fn: (...args: unknown[]) => unknown): boolean
  /** Blocks until the other side answers a synchronous call (worker side only). */
  callSync?(request: Omit<SyncRequest, 'id'>): SyncReply
  /** Deep-freezes what arrives (the worker side, so plugins get frozen values). */
  freeze?: boolean
}

/** What {@link createPeer} returns. @internal */
export interface Peer {
  /** Encodes a value, turning functions into handles of this side. */
  exportValue(value: unknown, sigs?: number[]): Encoded
  /** Decodes a value from the other side, turning handles into stubs. */
  importValue(encoded: Encoded): unknown
  /** Calls the other side's function `fn`. */
  call(fn: number, args: unknown[]): Promise<unknown>
  /** Handles an RPC message; false when it is not one. */
  handle(message: unknown): boolean
  /** Answers a synchronous call (host side). */
  answerSync(request: unknown): SyncReply
  /** Rejects every call in flight with `error` and forgets every handle. */
  close(error: Error): void
  /** Live handles of this side (for tests and stats). */
  size(): number
}

/**
 * Creates one side of the RPC (see the module comment). Self-contained: its source runs in workers.
 * @internal
 */
export function createPeer(codec: Codec, options: PeerOptions): Peer {
  type Fn = (...args: unknown[]) => unknown
  const local = new Map<number, Fn>()
  /** Ids of local functions the other side may call synchronously (no others: see answerSync). */
  const syncLocal = new Set<number>()
  let nextLocal = 1
  const pending = new Map<
    number,
    { resolve: (v: unknown) => void; reject: (e: unknown) => void; sigs: number[] }
  >()
  let nextCall = 1
  const localSignals = new Map<number, () => void>()
  let nextSignal = 1
  const remoteSignals = new Map<number, AbortController>()
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
  // Calls and replies go out in one message per turn (`batch`): a burst of calls costs one
  // postMessage each way instead of one per call.
  let outbox: Array<Record<string, unknown>> = []
  const flush = (): void => {
    const batch = outbox
    outbox = []
    if (closed || batch.length === 0) return
    try {
      options.post(batch.length === 1 ? batch[0] : { t: 'batch', m: batch })
      return
    } catch {
      // one of them cannot be cloned: send them one by one and refuse that one
    }
    for (const m of batch) {
      try {
        options.post(m)
      } catch (error) {
        const why = codec.errorJson(error).message
        if (m.t === 'call') {
          const p = pending.get(m.id as number)
          pending.delete(m.id as number)
          if (p !== undefined) releaseSignals(p.sigs)
          p?.reject(
            options.makeError({
              name: 'CoreError',
              code: 'E_VALIDATION',
              message: `Cannot pass these arguments across the isolation boundary: ${why}`,
            }),
          )
        } else if (m.t === 'ret') {
          safePost({
            t: 'ret',
            id: m.id,
            ok: false,
            e: {
              name: 'CoreError',
              code: 'E_VALIDATION',
              message: `Cannot pass this result across the isolation boundary: ${why}`,
            },
          })
        }
      }
    }
  }
  const send = (message: Record<string, unknown>): void => {
    if (outbox.push(message) === 1) queueMicrotask(flush)
  }
  const forbidden = (message: string): ErrorJson => ({
    name: 'CoreError',
    code: 'E_FORBIDDEN',
    message,
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
  const importValue = (encoded: Encoded): unknown => {
    if (typeof encoded !== 'object' || encoded === null) throw new TypeError('malformed value')
    const value = codec.decode(encoded, makeFunction, options.makeError, makeSignal)
    return options.freeze ? codec.deepFreeze(value) : value
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
        pending.set(id, { resolve, reject, sigs })
        send({ t: 'call', id, fn, a })
      } catch (error) {
        pending.delete(id)
        releaseSignals(sigs)
        reject(
          options.makeError({
            name: 'CoreError',
            code: 'E_VALIDATION',
            message: `Cannot pass these arguments across the isolation boundary: ${codec.errorJson(error).message}`,
          }),
        )
      }
    })

  /** The call was answered: stop mirroring its signals (the other side forgot them). */
  const releaseSignals = (sigs: number[]): void => {
    for (const sig of sigs) {
      localSignals.get(sig)?.()
      localSignals.delete(sig)
    }
  }

  const reply = (id: number, ok: boolean, value: unknown): void => {
    try {
      send(ok ? { t: 'ret', id, ok, r: exportValue(value) } : { t: 'ret', id, ok, e: value })
    } catch (error) {
      safePost({
        t: 'ret',
        id,
        ok: false,
        e: {
          name: 'CoreError',
          code: 'E_VALIDATION',
          message: `Cannot pass this result across the isolation boundary: ${codec.errorJson(error).message}`,
        },
      })
    }
  }

  const handle = (message: unknown): boolean => {
    if (typeof message !== 'object' || message === null) return false
    const m = message as Record<string, unknown>
    switch (m.t) {
      case 'batch':
        if (Array.isArray(m.m)) for (const one of m.m) handle(one)
        return true
      case 'call': {
        if (typeof m.id !== 'number') return true
        const id = m.id
        const fn = typeof m.fn === 'number' ? local.get(m.fn) : undefined
        if (fn === undefined) {
          reply(id, false, forbidden(`No function #${String(m.fn)} was handed to this side`))
          return true
        }
        let args: unknown
        const signals: number[] = []
        try {
          receiving = signals
          args = importValue(m.a as Encoded)
          if (!Array.isArray(args)) throw new TypeError('arguments are not an array')
        } catch (error) {
          reply(id, false, { ...forbidden(codec.errorJson(error).message), code: 'E_VALIDATION' })
          return true
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
        return true
      }
      case 'ret': {
        const p = typeof m.id === 'number' ? pending.get(m.id) : undefined
        if (p === undefined) return true
        pending.delete(m.id as number)
        releaseSignals(p.sigs)
        if (m.ok === true) {
          try {
            p.resolve(importValue(m.r as Encoded))
          } catch (error) {
            p.reject(error)
          }
        } else p.reject(options.makeError(m.e as ErrorJson))
        return true
      }
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
      default:
        return false
    }
  }

  const answerSync = (request: unknown): SyncReply => {
    const r = request as Partial<SyncRequest>
    const id = typeof r?.id === 'number' ? r.id : -1
    const fn = typeof r?.fn === 'number' ? local.get(r.fn) : undefined
    if (fn === undefined)
      return {
        id,
        ok: false,
        e: forbidden(`No function #${String(r?.fn)} was handed to this side`),
      }
    // Only functions handed over as synchronous: an asynchronous one called here would leave
    // its promise (and a rejection) unattended.
    if (!syncLocal.has(r.fn as number))
      return {
        id,
        ok: false,
        e: forbidden(`Function #${String(r.fn)} cannot be called synchronously`),
      }
    try {
      const args = importValue(r.a as Encoded)
      if (!Array.isArray(args)) throw new TypeError('arguments are not an array')
      const value = fn(...args)
      if (typeof (value as { then?: unknown })?.then === 'function')
        throw new TypeError('a synchronous function returned a promise')
      // An undo function returned by a synchronous call is synchronous as well.
      if (typeof value === 'function') {
        const ref: FunctionRef = { id: nextLocal++, sync: true }
        local.set(ref.id, value as Fn)
        syncLocal.add(ref.id)
        return { id, ok: true, r: { v: null, x: [[[], 'f', ref]] } }
      }
      return { id, ok: true, r: exportValue(value) }
    } catch (error) {
      return { id, ok: false, e: codec.errorJson(error) }
    }
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
  }

  return {
    exportValue,
    importValue,
    call,
    handle,
    answerSync,
    close,
    size: () => local.size,
  }
}
