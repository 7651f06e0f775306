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
  const seen = new Set<object>()
  const copy = (v: unknown, path: string, depth: number): JsonValue | undefined => {
    switch (typeof v) {
      case 'string':
      case 'boolean':
        return v
      case 'number':
        if (Number.isFinite(v)) return v === 0 ? 0 : v // JSON has no -0
        throw bad(subject, path, `${v} is not a JSON number`)
      case 'undefined':
        return undefined
      case 'object': {
        if (v === null) return null
        if (depth >= maxDepth) throw bad(subject, path, `nesting deeper than ${maxDepth} levels`)
        if (seen.has(v)) throw bad(subject, path, 'a cycle (the value contains itself)')
        if (Array.isArray(v)) {
          seen.add(v)
          const out: JsonValue[] = new Array(v.length)
          for (let i = 0; i < v.length; i++) {
            const item = copy(v[i], `${path}/${i}`, depth + 1)
            out[i] = item === undefined ? null : item
          }
          seen.delete(v)
          return out
        }
        const proto = Object.getPrototypeOf(v)
        if (proto !== Object.prototype && proto !== null) {
          const toJSON = (v as { toJSON?: unknown }).toJSON
          if (typeof toJSON === 'function') return copy(toJSON.call(v), path, depth)
          const kind = (v as { constructor?: { name?: string } }).constructor?.name ?? 'object'
          throw bad(subject, path, `a ${kind} is not a plain JSON object`)
        }
        seen.add(v)
        const out: Record<string, JsonValue> = {}
        for (const key of Object.keys(v)) {
          const item = copy(
            (v as Record<string, unknown>)[key],
            `${path}/${escapePointer(key)}`,
            depth + 1,
          )
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
        seen.delete(v)
        return out
      }
      default:
        throw bad(subject, path, `a ${typeof v} is not JSON`)
    }
  }
  const result = copy(value, '', 0)
  if (result === undefined) throw bad(subject, '', 'undefined is not JSON')
  return result
}

function escapePointer(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1')
}

function bad(subject: string, path: string, why: string): CoreError {
  const where = path === '' ? '' : ` at ${path}`
  return new CoreError('E_VALIDATION', `Invalid ${subject}: ${why}${where}; values must be JSON`, {
    details: { path: path === '' ? '/' : path },
  })
}
