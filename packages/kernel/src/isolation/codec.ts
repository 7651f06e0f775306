/**
 * The value codec of the isolation RPC, used on both sides of the `MessagePort`.
 *
 * `createCodec` must stay self-contained (no imports, no outer names): the worker runtime is
 * built from its source text (`String(createCodec)`), so the same code runs in the worker.
 *
 * A value crosses as `{ v, x }`: `v` is a copy of the value that the structured clone algorithm
 * can carry, with every function, error and `AbortSignal` replaced by `null`, and `x` lists
 * those places as `[path, kind, payload]` (kind `f` function handle, `e` error JSON, `s` abort
 * signal handle). Nothing in `v` itself is ever read as a reference, so data cannot forge one.
 * Plain data (the common case) is recognised in one pass and crosses without `x`.
 *
 * It also holds the two shapes the peer's messages take on both sides: the wire layout (entry
 * lengths and the per-turn outbox) and a service handler's context rebuilt from its fields.
 * @internal
 */

/** A path into a value: property names and array indices. @internal */
export type ValuePath = Array<string | number>

/** An encoded value, see the module comment. @internal */
export interface Encoded {
  v: unknown
  x?: Array<[ValuePath, 'f' | 'e' | 's', unknown]>
}

/** An error as it crosses: a CoreError's JSON, or `{ name, message }`. @internal */
export interface ErrorJson {
  name: string
  message: string
  code?: string
  details?: Record<string, unknown>
}

/** The data fields of a service handler's context, in this order. @internal */
export type ServiceContextFields = [
  name: unknown,
  version: unknown,
  meta: unknown,
  caller: unknown,
  traceparent: unknown,
  deadlineAt: unknown,
]

/** What {@link Codec.outbox} needs: how to post a batch, and what to do with refused entries. @internal */
export interface OutboxOptions {
  /** Posts a batch (may throw a DataCloneError). */
  post(batch: unknown[]): void
  /** Last changes to a batch before it is posted. */
  beforePost(batch: unknown[]): void
  /** An entry (tag, and its `id` field) could not be posted: `error` says why. */
  refuse(tag: number, id: unknown, error: unknown): void
}

/** A table of calls in flight by numeric id (see {@link Codec.idTable}). @internal */
export interface IdTable<T> {
  get(id: number): T | undefined
  set(id: number, value: T): void
  has(id: number): boolean
  delete(id: number): void
  /** The values, for closing. */
  values(): T[]
  clear(): void
}

/** What {@link createCodec} returns. @internal */
export interface Codec {
  /** Encodes `value`; `onFunction`/`onSignal` turn a function/signal into its handle. */
  encode(
    value: unknown,
    onFunction: (fn: (...args: unknown[]) => unknown, path: ValuePath) => unknown,
    onSignal: (signal: AbortSignal) => unknown,
  ): Encoded
  /** Rebuilds a value; `makeFunction`/`makeError`/`makeSignal` turn payloads into values. */
  decode(
    encoded: Encoded,
    makeFunction: (payload: unknown) => unknown,
    makeError: (json: ErrorJson) => unknown,
    makeSignal: (payload: unknown) => unknown,
  ): unknown
  /** The JSON form of a thrown value. */
  errorJson(error: unknown): ErrorJson
  /**
   * Freezes a value and every plain object and array in it. Made for values fresh from a
   * structured clone: an object already frozen is taken as done, its members as well.
   */
  deepFreeze<T>(value: T): T
  /**
   * The RPC's wire layout: entry lengths by tag (the tag included; see `createPeer`), and an
   * outbox whose `box()` is the array the next entry is pushed to. The entries pushed in one
   * turn go out as one batch (at the next microtask); when the batch cannot be cloned, each
   * entry is posted alone and the ones that still cannot are handed to `refuse`.
   */
  readonly entrySize: readonly number[]
  outbox(options: OutboxOptions): { box(): unknown[] }
  /**
   * A table of calls in flight by id: a ring of 1,024 slots (`id & 1023`) for the common case,
   * and a `Map` for an id whose slot a longer call still holds. Not a `Map` alone: one that
   * fills with a burst of calls and empties again rehashes each time, and the old tables kept
   * the calls of later bursts alive through the hub's scavenges once one of them had been
   * promoted (measured: in 2 runs of 4, scavenges took ~0.6 s instead of ~0.11 s and the calls
   * ran at half the rate; with the ring, 0 of 4).
   */
  idTable<T>(): IdTable<T>
  /**
   * A service handler's context rebuilt from the fields that crossed for call `id`. Own fields
   * (all but `signal`) are frozen data; `signal` is a getter on a frozen prototype with no
   * prototype of its own and no `constructor` (as the registry's handler context), which asks
   * `signalOf(id)` for its controller on first read.
   */
  serviceContext(
    id: number,
    fields: ServiceContextFields,
    signalOf: (id: number) => AbortController,
  ): object
}

/**
 * Builds the codec (see the module comment). Self-contained: its source text runs in workers.
 * @internal
 */
export function createCodec(): Codec {
  const isPlainProto = (p: unknown): boolean => p === Object.prototype || p === null
  /** Objects whose prototype chain ends in null without Object.prototype (e.g. a handler context). */
  const isNullChain = (v: object): boolean => {
    let p = Object.getPrototypeOf(v)
    if (p === null) return false
    while (p !== null) {
      if (p === Object.prototype) return false
      if (Object.getPrototypeOf(p) === null && Object.isFrozen(p)) return true
      p = Object.getPrototypeOf(p)
    }
    return false
  }
  const errorJson = (error: unknown): ErrorJson => {
    if (typeof error === 'object' && error !== null) {
      const e = error as { name?: unknown; message?: unknown; code?: unknown; details?: unknown }
      const out: ErrorJson = {
        name: typeof e.name === 'string' ? e.name : 'Error',
        message: typeof e.message === 'string' ? e.message : String(error),
      }
      if (e.name === 'CoreError' && typeof e.code === 'string') {
        out.code = e.code
        if (typeof e.details === 'object' && e.details !== null) {
          try {
            out.details = structuredClone(e.details) as Record<string, unknown>
          } catch {
            out.details = undefined
          }
        }
      }
      return out
    }
    return { name: 'Error', message: String(error) }
  }
  const isError = (v: object): boolean =>
    v instanceof Error ||
    ((v as { name?: unknown }).name === 'CoreError' &&
      typeof (v as { code?: unknown }).code === 'string')

  /** Returned by {@link plainCopy} for a value the general walk must encode. */
  const NOT_PLAIN = Symbol('not plain')
  /** Most objects and arrays {@link plainCopy} copies before it leaves the value to the walk. */
  const PLAIN_BUDGET = 1_000
  /** Deepest nesting {@link plainCopy} follows (a cycle ends here and goes to the walk). */
  const PLAIN_DEPTH = 32
  let budget = 0
  /**
   * `v` as it may be posted when it is plain data: primitives, arrays and objects with
   * `Object.prototype` or a null prototype, none of them an error; else NOT_PLAIN. A frozen
   * object or array whose members need no copy is itself (nothing can change it before the
   * batch is posted); any other is copied, as the walk would. No paths and no `seen` map: the
   * common case (params, results, events) pays one pass, and a copy of what is not frozen.
   */
  const plainCopy = (v: unknown, depth: number): unknown => {
    if (typeof v !== 'object') return typeof v === 'function' ? NOT_PLAIN : v
    if (v === null) return v
    if (--budget < 0 || depth > PLAIN_DEPTH) return NOT_PLAIN
    let same = Object.isFrozen(v)
    if (Array.isArray(v)) {
      const out = new Array<unknown>(v.length)
      for (let i = 0; i < v.length; i++) {
        const m = v[i]
        const c = plainCopy(m, depth + 1)
        if (c === NOT_PLAIN) return NOT_PLAIN
        if (c !== m) same = false
        out[i] = c
      }
      return same ? v : out
    }
    if (!isPlainProto(Object.getPrototypeOf(v))) return NOT_PLAIN
    const o = v as Record<string, unknown>
    if (o.name === 'CoreError' && typeof o.code === 'string') return NOT_PLAIN
    const keys = Object.keys(o)
    if (same) {
      for (const k of keys) {
        const m = o[k]
        const c = plainCopy(m, depth + 1)
        if (c === NOT_PLAIN) return NOT_PLAIN
        if (c !== m) {
          same = false
          break
        }
      }
      if (same) return v
      budget += keys.length // counted again by the copy below
    }
    const out: Record<string, unknown> = {}
    for (const k of keys) {
      const c = plainCopy(o[k], depth + 1)
      if (c === NOT_PLAIN) return NOT_PLAIN
      out[k] = c
    }
    return out
  }

  const encode: Codec['encode'] = (value, onFunction, onSignal) => {
    budget = PLAIN_BUDGET
    const copy = plainCopy(value, 0)
    if (copy !== NOT_PLAIN) return { v: copy }
    const x: NonNullable<Encoded['x']> = []
    const seen = new Map<object, unknown>()
    const walk = (v: unknown, path: ValuePath): unknown => {
      if (typeof v === 'function') {
        x.push([path, 'f', onFunction(v as (...args: unknown[]) => unknown, path)])
        return null
      }
      if (typeof v !== 'object' || v === null) return v
      const done = seen.get(v)
      if (done !== undefined) return done
      if (typeof AbortSignal !== 'undefined' && v instanceof AbortSignal) {
        x.push([path, 's', onSignal(v)])
        return null
      }
      if (isError(v)) {
        x.push([path, 'e', errorJson(v)])
        return null
      }
      if (Array.isArray(v)) {
        const out: unknown[] = []
        seen.set(v, out)
        for (let i = 0; i < v.length; i++) out.push(walk(v[i], [...path, i]))
        return out
      }
      const plain = isPlainProto(Object.getPrototypeOf(v))
      if (!plain && !isNullChain(v)) return v // Date, Map, typed arrays…: cloned as they are
      const out: Record<string, unknown> = {}
      seen.set(v, out)
      const keys: string[] = []
      if (plain) keys.push(...Object.keys(v))
      else for (const k in v) keys.push(k)
      if (!plain) {
        // a handler context: its getters live on a frozen null-prototype holder
        for (let p = Object.getPrototypeOf(v); p !== null; p = Object.getPrototypeOf(p))
          for (const k of Object.getOwnPropertyNames(p)) if (!keys.includes(k)) keys.push(k)
      }
      for (const k of keys) out[k] = walk((v as Record<string, unknown>)[k], [...path, k])
      return out
    }
    const v = walk(value, [])
    return x.length === 0 ? { v } : { v, x }
  }

  const decode: Codec['decode'] = (encoded, makeFunction, makeError, makeSignal) => {
    let root = encoded.v
    const own = (o: unknown, k: string | number): boolean =>
      typeof o === 'object' && o !== null && k !== '__proto__' && Object.hasOwn(o, k)
    for (const [path, kind, payload] of encoded.x ?? []) {
      if (!Array.isArray(path)) throw new TypeError('malformed value path')
      const made =
        kind === 'f'
          ? makeFunction(payload)
          : kind === 'e'
            ? makeError(payload as ErrorJson)
            : makeSignal(payload)
      if (path.length === 0) {
        root = made
        continue
      }
      // Only places the encoder left (own keys, no `__proto__`): nothing else can be written.
      let at = root as Record<string | number, unknown>
      for (let i = 0; i < path.length; i++) {
        const key = path[i] as string
        if (!own(at, key)) throw new TypeError('malformed value path')
        if (i === path.length - 1) at[key] = made
        else at = at[key] as typeof at
      }
    }
    return root
  }

  /** The work list of {@link deepFreeze}, kept between calls (empty when it returns). */
  const stack: unknown[] = []
  const deepFreeze = <T>(value: T): T => {
    stack.push(value)
    while (stack.length > 0) {
      const v = stack.pop()
      if ((typeof v !== 'object' && typeof v !== 'function') || v === null) continue
      // Frozen = done: values fresh from a structured clone hold no frozen object of their own.
      if (Object.isFrozen(v)) continue
      if (typeof v === 'object' && !Array.isArray(v) && !isPlainProto(Object.getPrototypeOf(v)))
        continue
      Object.freeze(v)
      if (typeof v === 'object') for (const k of Object.keys(v)) stack.push((v as never)[k])
    }
    return value
  }

  /**
   * See {@link Codec.serviceContext}. A class, not an object literal with a getter: measured
   * here, 43 ns against 1.1 µs per context.
   */
  class ServiceContext {
    readonly #id: number
    readonly #signalOf: (id: number) => AbortController
    #controller: AbortController | undefined
    declare readonly name: unknown
    declare readonly version: unknown
    declare readonly meta: unknown
    declare readonly caller: unknown
    declare readonly traceparent: unknown
    declare readonly deadlineAt: unknown
    constructor(
      id: number,
      fields: ServiceContextFields,
      signalOf: (id: number) => AbortController,
    ) {
      this.#id = id
      this.#signalOf = signalOf
      this.#controller = undefined
      this.name = fields[0]
      this.version = fields[1]
      this.meta = fields[2]
      this.caller = fields[3]
      this.traceparent = fields[4]
      this.deadlineAt = fields[5]
      Object.freeze(this)
    }
    get signal(): AbortSignal {
      if (this.#controller === undefined) this.#controller = this.#signalOf(this.#id)
      return this.#controller.signal
    }
  }
  Reflect.deleteProperty(ServiceContext.prototype, 'constructor')
  Object.setPrototypeOf(ServiceContext.prototype, null)
  Object.freeze(ServiceContext.prototype)
  const serviceContext: Codec['serviceContext'] = (id, fields, signalOf) =>
    new ServiceContext(id, fields, signalOf)

  const entrySize = [5, 12, 5, 2]
  const outbox: Codec['outbox'] = ({ post, beforePost, refuse }) => {
    let next: unknown[] = []
    const flush = (): void => {
      const batch = next
      next = []
      beforePost(batch)
      if (batch.length === 0) return
      try {
        post(batch)
        return
      } catch {
        // one of them cannot be cloned: send them one by one and refuse that one
      }
      for (let i = 0; i < batch.length; ) {
        const size = entrySize[batch[i] as number] as number
        try {
          post(batch.slice(i, i + size))
        } catch (error) {
          refuse(batch[i] as number, batch[i + 1], error)
        }
        i += size
      }
    }
    return {
      box: () => {
        if (next.length === 0) queueMicrotask(flush)
        return next
      },
    }
  }

  const idTable = <T>(): IdTable<T> => {
    const SLOTS = 1024
    const ids = new Array<number | undefined>(SLOTS).fill(undefined)
    const values = new Array<T | undefined>(SLOTS).fill(undefined)
    const more = new Map<number, T>()
    return {
      get: (id) => (ids[id & (SLOTS - 1)] === id ? values[id & (SLOTS - 1)] : more.get(id)),
      set: (id, value) => {
        const i = id & (SLOTS - 1)
        const held = ids[i]
        if (held === id || (held === undefined && !(more.size > 0 && more.has(id)))) {
          ids[i] = id
          values[i] = value
        } else more.set(id, value)
      },
      has: (id) => ids[id & (SLOTS - 1)] === id || more.has(id),
      delete: (id) => {
        const i = id & (SLOTS - 1)
        if (ids[i] === id) {
          ids[i] = undefined
          values[i] = undefined
        } else more.delete(id)
      },
      values: () => {
        const out: T[] = [...more.values()]
        for (let i = 0; i < SLOTS; i++) if (ids[i] !== undefined) out.push(values[i] as T)
        return out
      },
      clear: () => {
        ids.fill(undefined)
        values.fill(undefined)
        more.clear()
      },
    }
  }

  return { encode, decode, errorJson, deepFreeze, serviceContext, entrySize, outbox, idTable }
}
