import { CoreError } from './errors.js'

/**
 * Freezes `value` and everything reachable from it, in place, and tells whether the result is
 * now truly immutable. Plain objects (prototype `Object.prototype` or null) are walked through
 * their enumerable keys, arrays through their indices, any other object through all its own
 * keys (string and symbol, without running getters).
 *
 * `Object.freeze` cannot make every object immutable: typed arrays, `ArrayBuffer`,
 * `DataView`, `Map`, `Set`, `WeakMap`, `WeakSet` and `Date` keep their contents in internal
 * slots that stay writable. Such objects are left as they are (their own properties are not
 * walked) and the function returns `false`; {@link toShareable} then falls back to a
 * structured clone. Objects already frozen are still walked (a frozen object may hold
 * mutable children); cycles are followed once.
 *
 * @param value - Any value; primitives are returned as immutable.
 * @returns `true` when nothing reachable from `value` can be changed any more.
 * @example
 * ```ts
 * const data = { lamp: { on: true } }
 * deepFreeze(data) // true
 * Object.isFrozen(data.lamp) // true
 * deepFreeze({ bytes: new Uint8Array(4) }) // false: the bytes stay writable
 * ```
 * @public
 */
export function deepFreeze(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return typeof value !== 'function'
  return freezeRoot(value as object)
}

/**
 * Returns a value that can be handed to several plugins without sharing anything they could
 * change: `value` itself, deep-frozen ({@link deepFreeze}), when freezing makes it immutable;
 * otherwise a structured clone of it (frozen where it can be) that no one else holds.
 *
 * The first case costs one walk of the value and no copy, which is the common case for JSON
 * data; the clone is only made for values holding typed arrays, `ArrayBuffer`, `Map`, `Set`
 * or `Date`. Hand the clone to one receiver only: its binary contents stay writable.
 *
 * @param value - The value crossing a boundary (event data, call params, a call result).
 * @param subject - What it is, for the error message (`params of the call to "lights.set"`).
 * @returns `value` frozen, or a private structured clone of it.
 * @throws {@link CoreError} `E_VALIDATION` when `value` can neither be frozen nor cloned
 *   (it holds a function or another non-cloneable object next to mutable binary data).
 * @see HTML Standard, "StructuredSerializeInternal"
 * @example
 * ```ts
 * const params = toShareable(input, 'params of the call to "lights.set"')
 * ```
 * @public
 */
export function toShareable<T>(value: T, subject = 'value'): T {
  if (typeof value !== 'object' || value === null) return value
  if (freezeRoot(value as object)) return value
  let copy: T
  try {
    copy = structuredClone(value)
  } catch (error) {
    throw new CoreError(
      'E_VALIDATION',
      `Invalid ${subject}: it holds mutable binary data or collections together with something that cannot be copied (${error instanceof Error ? error.message : String(error)}); send JSON, or plain data with typed arrays`,
      { cause: error },
    )
  }
  freezeWalk(copy as object, undefined)
  return copy
}

/**
 * Roots already proven deeply immutable. Sound because it cannot be undone: a frozen object's
 * data properties can never change again. Makes handing the same constant object on and on
 * (a common pattern for params and event data) one lookup.
 */
const IMMUTABLE = new WeakSet<object>()

function freezeRoot(value: object): boolean {
  // Only a root that comes back already frozen is remembered: adding every fresh object to a
  // WeakSet costs more than walking it (measured: it halved the publish rate of fresh data).
  if (IMMUTABLE.has(value)) return true // frozen for good: nothing can thaw it
  const again = Object.isFrozen(value)
  if (!freezeWalk(value, undefined)) return false
  if (again) IMMUTABLE.add(value)
  return true
}

/** Built-ins whose contents live in internal slots that `Object.freeze` leaves writable. */
function isUnfreezable(value: object): boolean {
  return (
    ArrayBuffer.isView(value) ||
    value instanceof ArrayBuffer ||
    (typeof SharedArrayBuffer !== 'undefined' && value instanceof SharedArrayBuffer) ||
    value instanceof Map ||
    value instanceof Set ||
    value instanceof WeakMap ||
    value instanceof WeakSet ||
    value instanceof Date
  )
}

/** Freezes the graph under `value`; `seen` is created only when a frozen object is met again. */
function freezeWalk(value: object, seen: Set<object> | undefined): boolean {
  const proto: unknown = Object.getPrototypeOf(value)
  const plain = proto === Object.prototype || proto === null
  if (!plain && proto !== Array.prototype && isUnfreezable(value)) return false
  let immutable = true
  if (Object.isFrozen(value)) {
    // Already frozen: walked again (children may be mutable), with a guard against cycles.
    seen ??= new Set()
    if (seen.has(value)) return true
    seen.add(value)
  } else Object.freeze(value)
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i]
      if (typeof item === 'object' && item !== null && !freezeWalk(item, seen)) immutable = false
    }
  } else if (plain) {
    // Plain data (object literals, JSON.parse): `for…in` is several times faster than reading
    // descriptors; it sees the enumerable string keys, which is all such data has.
    for (const key in value) {
      const item: unknown = (value as Record<string, unknown>)[key]
      if (typeof item === 'object' && item !== null && !freezeWalk(item, seen)) immutable = false
    }
  } else {
    // Class instances and other objects: every own key, through descriptors (no getter runs).
    for (const key of Reflect.ownKeys(value)) {
      const item: unknown = Object.getOwnPropertyDescriptor(value, key)?.value
      if (typeof item === 'object' && item !== null && !freezeWalk(item, seen)) immutable = false
    }
  }
  return immutable
}
