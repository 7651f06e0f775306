import type { StateChange, StateChangeReason, StateEntry } from '@core/contracts'
import type { BackendWriteResult, StateBackend, StateListItem } from './types.js'

/**
 * Creates the in-memory {@link StateBackend}: a `Map` per namespace and one revision counter
 * for the whole store. Each call does its work synchronously, so it is atomic by construction
 * (JavaScript runs one call at a time), and it answers directly, without a promise.
 *
 * Values are kept as given (the engine hands over its own frozen copy) and entries are
 * frozen, so what `get` returns cannot change the store. Nothing survives the process.
 *
 * @returns A fresh, empty backend.
 * @see etcd's `mod_revision`, for the revision rules
 * @example
 * ```ts
 * import { createEventBus } from '@core/event-bus'
 * import { createMemoryStateBackend, createStateEngine } from '@core/state-engine'
 *
 * const state = createStateEngine({ bus: createEventBus(), backend: createMemoryStateBackend() })
 * ```
 * @public
 */
export function createMemoryStateBackend(): StateBackend {
  const namespaces = new Map<string, Map<string, StateEntry>>()
  let revision = 0

  const live = (entry: StateEntry | undefined, now: number): StateEntry | undefined =>
    entry !== undefined && (entry.expiresAt === undefined || entry.expiresAt > now)
      ? entry
      : undefined

  /** Removes `key` if its entry has expired at `now`; returns the `expired` change, if any. */
  const sweep = (
    map: Map<string, StateEntry>,
    namespace: string,
    key: string,
    now: number,
  ): StateChange | undefined => {
    const entry = map.get(key)
    if (entry?.expiresAt === undefined || entry.expiresAt > now) return undefined
    map.delete(key)
    return change(namespace, key, 'expired', ++revision, undefined, entry.value)
  }

  return {
    get(namespace, key) {
      return namespaces.get(namespace)?.get(key)
    },

    list(namespace, prefix) {
      const map = namespaces.get(namespace)
      const out: StateListItem[] = []
      if (map === undefined) return out
      const below = prefix === undefined ? '' : `${prefix}.`
      for (const [key, entry] of map) {
        if (prefix !== undefined && key !== prefix && !key.startsWith(below)) continue
        out.push(withKey(key, entry))
      }
      return out
    },

    set(namespace, key, value, { now, expiresAt, ifRevision }) {
      let map = namespaces.get(namespace)
      const current = live(map?.get(key), now)
      const actual = current?.revision ?? 0
      if (ifRevision !== undefined && ifRevision !== actual) return refused(actual)
      if (map === undefined) {
        map = new Map()
        namespaces.set(namespace, map)
      }
      const expired = sweep(map, namespace, key, now)
      const entry: StateEntry = Object.freeze(
        expiresAt === undefined
          ? { value, revision: ++revision, updatedAt: now }
          : { value, revision: ++revision, updatedAt: now, expiresAt },
      )
      map.set(key, entry)
      const own = change(
        namespace,
        key,
        'set',
        entry.revision,
        value,
        current?.value,
        current !== undefined,
      )
      return {
        ok: true,
        actual,
        entry,
        changes: expired === undefined ? [own] : [expired, own],
      }
    },

    delete(namespace, key, { now, ifRevision }) {
      const map = namespaces.get(namespace)
      const current = live(map?.get(key), now)
      const actual = current?.revision ?? 0
      if (ifRevision !== undefined && ifRevision !== actual) return refused(actual)
      if (map === undefined) return { ok: true, actual, changes: [] }
      const expired = sweep(map, namespace, key, now)
      if (current === undefined) {
        return {
          ok: true,
          actual,
          changes: expired === undefined ? [] : [expired],
        }
      }
      map.delete(key)
      if (map.size === 0) namespaces.delete(namespace)
      return {
        ok: true,
        actual,
        changes: [change(namespace, key, 'delete', ++revision, undefined, current.value)],
      }
    },

    expire(namespace, key, atRevision, now) {
      const map = namespaces.get(namespace)
      const entry = map?.get(key)
      if (map === undefined || entry === undefined || entry.revision !== atRevision) {
        return { ok: true, actual: live(entry, now)?.revision ?? 0, changes: [] }
      }
      const expired = sweep(map, namespace, key, now)
      if (expired === undefined) return { ok: true, actual: entry.revision, changes: [] }
      if (map.size === 0) namespaces.delete(namespace)
      return { ok: true, actual: 0, changes: [expired] }
    },
  }
}

function refused(actual: number): BackendWriteResult {
  return { ok: false, actual, changes: [] }
}

function withKey(key: string, entry: StateEntry): StateListItem {
  return entry.expiresAt === undefined
    ? { key, value: entry.value, revision: entry.revision, updatedAt: entry.updatedAt }
    : {
        key,
        value: entry.value,
        revision: entry.revision,
        updatedAt: entry.updatedAt,
        expiresAt: entry.expiresAt,
      }
}

function change(
  namespace: string,
  key: string,
  reason: StateChangeReason,
  revision: number,
  value: unknown,
  previous: unknown,
  hadPrevious: boolean = previous !== undefined,
): StateChange {
  const out: StateChange = { namespace, key, revision, reason }
  if (reason === 'set') out.value = value
  if (hadPrevious) out.previous = previous
  return Object.freeze(out)
}
