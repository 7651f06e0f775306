import { CoreError } from './errors.js'

/**
 * A JSON value (RFC 8259): null, boolean, finite number, string, array or plain object.
 * @public
 */
export type JsonValue =
  | null
  | boolean
  | number
  | string
  | JsonValue[]
  | { [key: string]: JsonValue }

/**
 * Returns a deep copy of `value` if it is a JSON value, so that the caller can no longer
 * change what was stored. Plain objects and arrays are copied; keys such as `__proto__` and
 * `constructor` are kept as ordinary data and never touch a prototype.
 *
 * Refused, with the JSON Pointer of the first bad place in `details.path`: `undefined`
 * (except as an object property, which is dropped as `JSON.stringify` does), functions,
 * symbols, BigInt, NaN and ±Infinity, cycles, nesting deeper than `maxDepth`, and objects
 * that are not plain (class instances, Map, Date…) unless they have `toJSON()`, whose result
 * is copied instead.
 *
 * @param value - The value to copy.
 * @param subject - What it is, for the error message (`value of state key "lights.on"`).
 * @param maxDepth - Deepest nesting accepted. @defaultValue 64
 * @throws {@link CoreError} `E_VALIDATION` when `value` is not JSON-serialisable.
 * @see RFC 8259
 * @public
 */
export function cloneJson(value: unknown, subject = 'value', maxDepth = 64): JsonValue {
  const path: string[] = []
  try {
    const out = copyJson(value, 0, maxDepth, path, [])
    if (out === undefined) throw new NotJson('undefined is not JSON', path)
    return out
  } catch (error) {
    if (!(error instanceof NotJson)) throw error
    const pointer = error.path
      .map((key) => `/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`)
      .join('')
    const where = pointer === '' ? '' : ` at ${pointer}`
    throw new CoreError(
      'E_VALIDATION',
      `Invalid ${subject}: ${error.why}${where}; values must be JSON`,
      {
        details: { path: pointer === '' ? '/' : pointer },
      },
    )
  }
}

/** Thrown inside the walk; the JSON Pointer is built only when something is refused. */
class NotJson {
  readonly path: string[]
  constructor(
    readonly why: string,
    path: string[],
  ) {
    this.path = [...path]
  }
}

// A plain recursive walk with no closure or Set per call: on the hot path of every state set.
// `path` holds the keys down to the current value; `ancestors` the containers above it (cycle check).
function copyJson(
  v: unknown,
  depth: number,
  maxDepth: number,
  path: string[],
  ancestors: object[],
): JsonValue | undefined {
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return v
    case 'number':
      if (Number.isFinite(v)) return v === 0 ? 0 : v // JSON has no -0
      throw new NotJson(`${v} is not a JSON number`, path)
    case 'undefined':
      return undefined
    case 'object': {
      if (v === null) return null
      if (depth >= maxDepth) throw new NotJson(`nesting deeper than ${maxDepth} levels`, path)
      if (ancestors.includes(v)) throw new NotJson('a cycle (the value contains itself)', path)
      if (Array.isArray(v)) {
        ancestors.push(v)
        const out: JsonValue[] = new Array(v.length)
        for (let i = 0; i < v.length; i++) {
          path.push(String(i))
          const item = copyJson(v[i], depth + 1, maxDepth, path, ancestors)
          path.pop()
          out[i] = item === undefined ? null : item
        }
        ancestors.pop()
        return out
      }
      const proto = Object.getPrototypeOf(v)
      if (proto !== Object.prototype && proto !== null) {
        const toJSON = (v as { toJSON?: unknown }).toJSON
        if (typeof toJSON === 'function') {
          return copyJson(toJSON.call(v), depth, maxDepth, path, ancestors)
        }
        const kind = (v as { constructor?: { name?: string } }).constructor?.name ?? 'object'
        throw new NotJson(`a ${kind} is not a plain JSON object`, path)
      }
      ancestors.push(v)
      const out: Record<string, JsonValue> = {}
      for (const key of Object.keys(v)) {
        path.push(key)
        const item = copyJson(
          (v as Record<string, unknown>)[key],
          depth + 1,
          maxDepth,
          path,
          ancestors,
        )
        path.pop()
        if (item === undefined) continue
        if (key === '__proto__') {
          Object.defineProperty(out, key, {
            value: item,
            enumerable: true,
            writable: true,
            configurable: true,
          })
        } else out[key] = item
      }
      ancestors.pop()
      return out
    }
    default:
      throw new NotJson(`a ${typeof v} is not JSON`, path)
  }
}
