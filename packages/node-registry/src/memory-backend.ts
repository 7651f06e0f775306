import { type Clock, CoreError, systemClock } from '@core/contracts'
import type {
  NodeBackendChange,
  NodeRecord,
  NodeRegistryBackend,
  NodeSnapshotEntry,
} from './backend.js'

/**
 * The shared state of one in-memory registry: passports, liveness deadlines and watchers.
 * Several {@link createMemoryNodeRegistryBackend} instances given the same store behave like
 * several processes on one etcd prefix.
 * @public
 */
export interface MemoryNodeStore {
  /** The clock liveness deadlines follow. */
  readonly clock: Clock
  /** @internal */
  readonly records: Map<string, NodeRecord>
  /** @internal uid → liveness timer handle */
  readonly leases: Map<string, unknown>
  /** @internal */
  readonly watchers: Set<(change: NodeBackendChange) => void>
}

/** Options of {@link createMemoryNodeStore}. @public */
export interface CreateMemoryNodeStoreOptions {
  /** Clock of the liveness TTLs. @defaultValue `systemClock` */
  clock?: Clock
}

/**
 * Creates an empty store for memory backends to share.
 * @param options - `clock`.
 * @returns The store.
 * @example
 * ```ts
 * const store = createMemoryNodeStore()
 * const a = createNodeRegistry({ backend: createMemoryNodeRegistryBackend({ store }) })
 * const b = createNodeRegistry({ backend: createMemoryNodeRegistryBackend({ store }) })
 * ```
 * @public
 */
export function createMemoryNodeStore(options: CreateMemoryNodeStoreOptions = {}): MemoryNodeStore {
  return {
    clock: options.clock ?? systemClock,
    records: new Map(),
    leases: new Map(),
    watchers: new Set(),
  }
}

/** Options of {@link createMemoryNodeRegistryBackend}. @public */
export interface CreateMemoryNodeRegistryBackendOptions {
  /** The store to share with other memory backends. @defaultValue a new private store */
  store?: MemoryNodeStore
  /** Clock of the liveness TTLs, for a new store. @defaultValue `systemClock` */
  clock?: Clock
}

/**
 * Creates the in-memory backend, the embedded default of one process: passports in a Map,
 * liveness as a timer per node that reports `expired` when its TTL passes without a heartbeat.
 * Changes reach watchers synchronously, in the order they were made.
 *
 * @param options - `store` to share, or `clock` for a private one.
 * @returns The backend.
 * @example
 * ```ts
 * const registry = createNodeRegistry({ backend: createMemoryNodeRegistryBackend() })
 * ```
 * @public
 */
export function createMemoryNodeRegistryBackend(
  options: CreateMemoryNodeRegistryBackendOptions = {},
): NodeRegistryBackend {
  const store = options.store ?? createMemoryNodeStore({ clock: options.clock ?? systemClock })
  const own = new Set<(change: NodeBackendChange) => void>()
  let closed = false

  const emit = (change: NodeBackendChange): void => {
    for (const watcher of [...store.watchers]) watcher(change)
  }
  const ensureOpen = (): void => {
    if (closed) throw new CoreError('E_UNAVAILABLE', 'The memory node-registry backend is closed')
  }
  const dropLease = (uid: string): boolean => {
    if (!store.leases.has(uid)) return false
    store.clock.clearTimeout(store.leases.get(uid))
    store.leases.delete(uid)
    return true
  }

  return {
    name: 'memory',
    async put(record) {
      ensureOpen()
      const uid = record.passport.metadata.uid
      store.records.set(uid, record)
      emit({ type: 'put', uid, record })
    },
    async heartbeat(record, ttlMs) {
      ensureOpen()
      const uid = record.passport.metadata.uid
      if (!store.records.has(uid)) {
        store.records.set(uid, record)
        emit({ type: 'put', uid, record })
      }
      dropLease(uid)
      store.leases.set(
        uid,
        store.clock.setTimeout(() => {
          store.leases.delete(uid)
          emit({ type: 'expired', uid })
        }, ttlMs),
      )
      emit({ type: 'heartbeat', uid })
    },
    async remove(uid, removeOptions = {}) {
      ensureOpen()
      if (!store.records.has(uid)) return false
      if (removeOptions.onlyIfExpired === true && store.leases.has(uid)) return false
      dropLease(uid) // released with the passport: `deleted` says it all
      store.records.delete(uid)
      emit({ type: 'deleted', uid })
      return true
    },
    async load(): Promise<NodeSnapshotEntry[]> {
      ensureOpen()
      return [...store.records.values()].map((record) => ({
        ...record,
        live: store.leases.has(record.passport.metadata.uid),
      }))
    },
    watch(handler) {
      const watcher = (change: NodeBackendChange): void => handler(change)
      store.watchers.add(watcher)
      own.add(watcher)
      return () => {
        store.watchers.delete(watcher)
        own.delete(watcher)
      }
    },
    async close() {
      closed = true
      for (const watcher of own) store.watchers.delete(watcher)
      own.clear()
      // A private store dies with its backend: no liveness timer outlives it.
      if (options.store === undefined) for (const uid of [...store.leases.keys()]) dropLease(uid)
    },
  }
}
