import type { Condition } from './schemas.js'

const MISSING: unique symbol = Symbol('missing')

/**
 * The value at a dot path (`data.state.on`) inside `root`, or {@link MISSING}. Only own
 * properties are followed (never `__proto__`, `constructor` or other inherited members);
 * numeric segments index arrays.
 */
export function valueAt(root: unknown, path: string): unknown | typeof MISSING {
  let current: unknown = root
  for (const segment of path.split('.')) {
    if (Array.isArray(current)) {
      if (!/^(0|[1-9][0-9]*)$/.test(segment)) return MISSING
      const index = Number(segment)
      if (index >= current.length) return MISSING
      current = current[index]
    } else if (typeof current === 'object' && current !== null && Object.hasOwn(current, segment)) {
      current = (current as Record<string, unknown>)[segment]
    } else {
      return MISSING
    }
  }
  return current === undefined ? MISSING : current
}

/** True when `value` satisfies the condition (see `ConditionSchema` for the operators). */
export function holds(condition: Condition, root: unknown): boolean {
  const actual = valueAt(root, condition.path)
  if (condition.op === 'exists') return (actual !== MISSING) === (condition.value ?? true)
  if (actual === MISSING) return false
  switch (condition.op) {
    case 'eq':
      return sameJson(actual, condition.value)
    case 'ne':
      return !sameJson(actual, condition.value)
    case 'in':
      return condition.value.some((v) => sameJson(actual, v))
    default: {
      const expected = condition.value
      if (
        typeof actual !== typeof expected ||
        (typeof actual !== 'number' && typeof actual !== 'string')
      )
        return false
      const a = actual as number | string
      if (condition.op === 'gt') return a > expected
      if (condition.op === 'gte') return a >= expected
      if (condition.op === 'lt') return a < expected
      return a <= expected
    }
  }
}

/** True when every condition holds (an empty list always holds). */
export function allHold(conditions: readonly Condition[] | undefined, root: unknown): boolean {
  return (conditions ?? []).every((c) => holds(c, root))
}

/**
 * The params of a rule's call for one event: a copy of `params` in which every object of the
 * exact form `{ "$from": "<path>" }` is replaced by the event's value at that path (`null` when
 * the path leads nowhere).
 */
export function resolveParams(params: unknown, root: unknown): unknown {
  if (Array.isArray(params)) return params.map((p) => resolveParams(p, root))
  if (typeof params !== 'object' || params === null) return params
  const entries = Object.entries(params)
  if (entries.length === 1 && entries[0]?.[0] === '$from' && typeof entries[0][1] === 'string') {
    const value = valueAt(root, entries[0][1])
    return value === MISSING ? null : structuredClone(value)
  }
  const out: Record<string, unknown> = {}
  for (const [k, v] of entries) out[k] = resolveParams(v, root)
  return out
}

/** Deep equality of JSON values (object member order does not matter). */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false
  if (Array.isArray(a) !== Array.isArray(b)) return false
  if (Array.isArray(a) && Array.isArray(b))
    return a.length === b.length && a.every((v, i) => sameJson(v, b[i]))
  const ka = Object.keys(a)
  const kb = Object.keys(b)
  return (
    ka.length === kb.length &&
    ka.every(
      (k) =>
        Object.hasOwn(b, k) &&
        sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]),
    )
  )
}
