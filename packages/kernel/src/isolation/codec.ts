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
  /** Freezes a value and every plain object and array in it. */
  deepFreeze<T>(value: T): T
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

  const encode: Codec['encode'] = (value, onFunction, onSignal) => {
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

  const deepFreeze = <T>(value: T): T => {
    const stack: unknown[] = [value]
    const seen = new Set<object>()
    while (stack.length > 0) {
      const v = stack.pop()
      if ((typeof v !== 'object' && typeof v !== 'function') || v === null) continue
      if (seen.has(v)) continue
      seen.add(v)
      if (typeof v === 'object' && !Array.isArray(v) && !isPlainProto(Object.getPrototypeOf(v)))
        continue
      Object.freeze(v)
      if (typeof v === 'object') for (const k of Object.keys(v)) stack.push((v as never)[k])
    }
    return value
  }

  return { encode, decode, errorJson, deepFreeze }
}
