import { cloneJson, deepFreeze, type StateChange, type StateEntry } from '@core/contracts'

export function isThenable<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | undefined)?.then === 'function'
}

/** The engine's own deep-frozen copy of a JSON value; primitives need no copy. */
export function ownCopy(value: unknown, namespace: string, key: string): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value
    case 'number':
      if (Number.isFinite(value)) return value
      break
    case 'object':
      if (value === null) return null
  }
  const copy = cloneJson(value, `value of state key "${key}" in namespace "${namespace}"`)
  deepFreeze(copy)
  return copy
}

/** Entries from a backend that does not freeze them (e.g. parsed from Redis) are frozen here. */
export function freezeEntry<E extends StateEntry>(entry: E): E {
  if (Object.isFrozen(entry)) return entry
  deepFreeze(entry.value)
  return Object.freeze(entry)
}

/**
 * The changes of one write with `updatedAt` (and, for the `set`, the new entry's `expiresAt`)
 * filled in where the backend left them out: `now` is the engine's clock reading the write was
 * made with. Changes that carry them (the memory backend's) are returned as they are.
 */
export function stamped(changes: StateChange[], now: number, entry?: StateEntry): StateChange[] {
  if (changes.every((change) => change.updatedAt !== undefined)) return changes
  return changes.map((change) => {
    if (change.updatedAt !== undefined) return change
    if (change.reason !== 'set' || entry === undefined) return { ...change, updatedAt: now }
    const out: StateChange = { ...change, updatedAt: entry.updatedAt }
    if (entry.expiresAt !== undefined) out.expiresAt = entry.expiresAt
    return out
  })
}

export function freezeChange(change: StateChange): StateChange {
  if (Object.isFrozen(change)) return change
  deepFreeze(change.value)
  deepFreeze(change.previous)
  return Object.freeze(change)
}
