import {
  assertNamespace,
  CoreError,
  createStderrLogger,
  type StateChange,
  type StateChangeReason,
  type StateEntry,
  systemClock,
} from '@core/contracts'
import type { BackendWriteResult, StateEngine, StateListItem } from '@core/state-engine'
import {
  markOf,
  PAGE,
  PERSISTED_STATE_STORAGE_NAMESPACE,
  persistedStateKey,
  REVISION_KEY,
  readPersisted,
} from './persisted-documents.js'
import type {
  CreatePersistentStateBackendOptions,
  PersistentStateBackend,
  PersistentStateRestoreReport,
  RestorePersistentStateOptions,
} from './persistent-state-types.js'

/** Longest delay handed to the clock at once: Node fires longer delays immediately. */
const MAX_TIMER_DELAY_MS = 2_147_483_647

/**
 * Creates a state backend that persists the chosen namespaces into storage: storage is their
 * source of truth, an in-memory copy serves reads, and `restore()` loads them on boot.
 *
 * **Writes.** A `set`, `delete` or expiry in a persisted namespace is written to storage
 * first (document `core`/`state.<namespace>.<key>`, see {@link PersistedStateDocument}) and
 * committed in memory only once storage acknowledged it. If storage fails, the call rejects
 * (`E_STORAGE`, the storage error as `cause`; a value over the storage's `maxValueBytes` is
 * `E_VALIDATION`) and the state is unchanged: reads return the old entry and no change is
 * published. Removals delete the document. Other namespaces are kept in memory only and
 * answered synchronously, exactly as `createMemoryStateBackend()`.
 *
 * **Revisions.** One counter for the whole store, as the backend contract asks. Each document
 * keeps its entry's revision, `updatedAt` and `expiresAt`, and each removal records its
 * revision in `core`/`state.#revision` (in the same storage transaction), so `restore()` sets
 * the counter to the highest revision ever persisted: a persisted key's revisions keep growing
 * across restarts, including after a delete and re-create. (Revisions of non-persisted
 * namespaces are not recorded: they continue from the restored counter.) A failed write leaves
 * a gap in the revisions, which the contract allows.
 *
 * **Restore.** `restore()` reads every document of the persisted namespaces, drops (and
 * removes from storage) the entries already expired at `clock.now()`, and loads the rest with
 * their revisions and times. Until it has succeeded, calls on a persisted namespace reject with
 * `E_UNAVAILABLE` (a write could otherwise take a revision lower than a stored one).
 *
 * **Limits.** Writes to persisted namespaces are async, so `set` resolves after the storage
 * write and events follow revision order per key only. With the memory and SQLite adapters,
 * storage runs one transaction at a time: do not await a write to a persisted namespace from
 * inside a storage transaction (it would wait for that transaction to end).
 *
 * @param options - `storage`, `namespaces` (required); `clock`, `logger`.
 * @returns The backend, to pass as `createStateEngine({ backend })`; then call `restore()`.
 * @throws {@link @core/contracts!CoreError} `E_VALIDATION` for a missing storage or a bad namespace. Its calls
 *   reject with `E_STORAGE` (storage failed; the state unchanged), `E_VALIDATION` (value too
 *   large for storage) and `E_UNAVAILABLE` (persisted namespace used before `restore()`).
 * @see etcd v3 revisions (the revision rules); the `StateBackend` contract of `@core/state-engine`
 * @example
 * ```ts
 * const storage = createStorage(await createSqliteAdapter({ filename: './data/hub.db' }))
 * const backend = createPersistentStateBackend({ storage, namespaces: ['scenes'] })
 * const state = createStateEngine({ bus: createEventBus(), backend })
 * await backend.restore({ state })
 * await state.set('scenes', 'current', 'evening') // survives a restart
 * ```
 * @public
 */
export function createPersistentStateBackend(
  options: CreatePersistentStateBackendOptions,
): PersistentStateBackend {
  const storage = options?.storage
  if (typeof storage?.transaction !== 'function' || typeof storage.list !== 'function') {
    throw new CoreError(
      'E_VALIDATION',
      'createPersistentStateBackend needs { storage }: a Storage from createStorage()',
      { details: { option: 'storage' } },
    )
  }
  if (!Array.isArray(options.namespaces)) {
    throw new CoreError(
      'E_VALIDATION',
      'createPersistentStateBackend needs { namespaces }: an array of state namespaces to persist',
      { details: { option: 'namespaces' } },
    )
  }
  for (const ns of options.namespaces) assertNamespace(ns, 'persisted state namespace')
  const persisted = new Set<string>(options.namespaces)
  /** Persisted namespaces loaded from storage: only these may be used. */
  const loaded = new Set<string>()
  /** Loads run one at a time (restore and persist). */
  let loading: Promise<unknown> = Promise.resolve()
  const clock = options.clock ?? systemClock
  const logger = options.logger ?? createStderrLogger({ component: 'persistent-state' })
  const CORE = PERSISTED_STATE_STORAGE_NAMESPACE

  const maps = new Map<string, Map<string, StateEntry>>()
  let revision = 0
  let restored: PersistentStateRestoreReport | undefined
  let restoring: Promise<PersistentStateRestoreReport> | undefined
  let expiring: Array<{ namespace: string; key: string; expiresAt: number }> = []
  let timer: unknown
  let closed = false

  /** Throws unless `namespace` may be used now (persisted ones only after restore). */
  const usable = (namespace: string): boolean => {
    if (!persisted.has(namespace)) return false
    if (!loaded.has(namespace)) {
      throw new CoreError(
        'E_UNAVAILABLE',
        `State namespace "${namespace}" is persisted and has not been restored from storage yet: call restore() first (the kernel does it in start())`,
        { details: { namespace } },
      )
    }
    return true
  }

  const failed = (error: unknown, what: string, namespace: string, key: string): CoreError => {
    if (CoreError.is(error, 'E_VALIDATION')) return error
    const storageKey = persistedStateKey(namespace, key)
    const reason = error instanceof Error ? error.message : String(error)
    return new CoreError(
      'E_STORAGE',
      `Could not ${what} state key "${key}" of persisted namespace "${namespace}" in storage ("${CORE}"/"${storageKey}"), so the state is unchanged: ${reason}`,
      { cause: error, details: { namespace, key, storageNamespace: CORE, storageKey } },
    )
  }

  /** Deletes the document and records `removedAt` as a revision taken, in one transaction. */
  const unpersist = (namespace: string, key: string, removedAt: number): Promise<void> =>
    storage
      .transaction(async (tx) => {
        const mark = markOf(await tx.get(CORE, REVISION_KEY))
        await tx.delete(CORE, persistedStateKey(namespace, key))
        if (mark < removedAt) {
          await tx.set(CORE, REVISION_KEY, { revision: removedAt })
        }
      })
      .catch((error: unknown) => {
        throw failed(error, 'delete', namespace, key)
      })

  /** Runs `commit` at once (memory), or after `persist` succeeded (persisted namespace). */
  const after = (
    persist: (() => Promise<void>) | undefined,
    commit: () => BackendWriteResult,
  ): BackendWriteResult | Promise<BackendWriteResult> =>
    persist === undefined ? commit() : persist().then(commit)

  const arm = (): void => {
    if (closed || expiring.length === 0 || timer !== undefined) return
    const first = expiring[0] as (typeof expiring)[number]
    const delay = Math.min(Math.max(0, first.expiresAt - clock.now()), MAX_TIMER_DELAY_MS)
    timer = clock.setTimeout(() => fire(), delay)
  }
  let expireThrough: Pick<StateEngine, 'delete'> | undefined
  const fire = (): void => {
    timer = undefined
    const now = clock.now()
    let due = 0
    while (due < expiring.length && (expiring[due] as (typeof expiring)[number]).expiresAt <= now)
      due++
    for (const { namespace, key } of expiring.splice(0, due)) {
      // ifRevision 0: removes the entry only if it is (still) expired; a key written again
      // since the restore is live and answers E_CONFLICT, which is expected.
      expireThrough?.delete(namespace, key, { ifRevision: 0 }).catch((error: unknown) => {
        if (CoreError.is(error, 'E_CONFLICT') || CoreError.is(error, 'E_UNAVAILABLE')) return
        logger.warn(
          { err: error, namespace, key },
          'persistent-state: expiring a restored key failed',
        )
      })
    }
    arm()
  }

  /** Loads `namespaces` from storage, all or nothing; they are usable once it resolved. */
  const load = async (
    restoreOptions: RestorePersistentStateOptions | undefined,
    namespaces: readonly string[],
  ): Promise<PersistentStateRestoreReport> => {
    const { report, staged, stale, highest } = await readPersisted(
      storage,
      namespaces,
      clock.now(),
      logger,
    )
    if (restoreOptions?.state !== undefined) expireThrough = restoreOptions.state
    for (const [namespace, map] of staged) {
      // Stored entries replace what memory held for a namespace persisted from now on.
      if (map.size > 0) maps.set(namespace, map)
      else maps.delete(namespace)
      loaded.add(namespace)
      if (expireThrough === undefined) continue
      for (const [key, entry] of map) {
        if (entry.expiresAt !== undefined)
          expiring.push({ namespace, key, expiresAt: entry.expiresAt })
      }
    }
    revision = Math.max(revision, highest)
    report.revision = revision
    expiring.sort((a, b) => a.expiresAt - b.expiresAt)
    if (timer !== undefined) clock.clearTimeout(timer)
    timer = undefined
    arm()
    for (let i = 0; i < stale.length; i += PAGE) {
      const ops = stale.slice(i, i + PAGE).map((key) => ({ op: 'delete' as const, key }))
      await storage.batch(CORE, ops).catch((error: unknown) => {
        logger.warn(
          { err: error, storageNamespace: CORE },
          'persistent-state: removing expired state documents from storage failed; they are dropped again on the next restore',
        )
      })
    }
    return report
  }

  /** Runs `work` after the loads queued before it. */
  const queued = <T>(work: () => Promise<T>): Promise<T> => {
    const run = loading.then(work, work)
    loading = run.catch(() => undefined)
    return run
  }
  const unloaded = (): string[] => [...persisted].filter((n) => !loaded.has(n)).sort()

  return {
    get namespaces() {
      return Object.freeze([...persisted].sort())
    },

    persist(namespaces, restoreOptions) {
      if (!Array.isArray(namespaces)) {
        return Promise.reject(
          new CoreError('E_VALIDATION', 'persist() takes an array of state namespaces', {
            details: { option: 'namespaces' },
          }),
        )
      }
      try {
        for (const ns of namespaces) assertNamespace(ns, 'persisted state namespace')
      } catch (error) {
        return Promise.reject(error)
      }
      return queued(async () => {
        const fresh = [...new Set(namespaces)].filter((n) => !loaded.has(n)).sort()
        for (const ns of fresh) persisted.add(ns)
        return load(restoreOptions, fresh)
      })
    },

    restore(restoreOptions) {
      if (restored !== undefined) return Promise.resolve(restored)
      if (restoring !== undefined) return restoring
      const run = queued(() => load(restoreOptions, unloaded())).then(
        (report) => {
          restored = report
          restoring = undefined
          return report
        },
        (error: unknown) => {
          restoring = undefined
          throw error
        },
      )
      restoring = run
      return run
    },

    close() {
      closed = true
      if (timer !== undefined) clock.clearTimeout(timer)
      timer = undefined
      expiring = []
    },

    get(namespace, key) {
      usable(namespace)
      return maps.get(namespace)?.get(key)
    },

    list(namespace, prefix) {
      usable(namespace)
      const map = maps.get(namespace)
      const out: StateListItem[] = []
      if (map === undefined) return out
      const below = prefix === undefined ? '' : `${prefix}.`
      for (const [key, entry] of map) {
        if (prefix !== undefined && key !== prefix && !key.startsWith(below)) continue
        out.push({ key, ...entry })
      }
      return out
    },

    set(namespace, key, value, { now, expiresAt, ifRevision }) {
      const durable = usable(namespace)
      const found = maps.get(namespace)?.get(key)
      const current = live(found, now)
      const actual = current?.revision ?? 0
      if (ifRevision !== undefined && ifRevision !== actual) return refused(actual)
      const expiredAt = found !== undefined && current === undefined ? ++revision : undefined
      const entry: StateEntry = Object.freeze(
        expiresAt === undefined
          ? { value, revision: ++revision, updatedAt: now }
          : { value, revision: ++revision, updatedAt: now, expiresAt },
      )
      const persist = durable
        ? (): Promise<void> =>
            storage
              .set(CORE, persistedStateKey(namespace, key), { namespace, key, ...entry })
              .catch((error: unknown) => {
                throw failed(error, 'write', namespace, key)
              })
        : undefined
      return after(persist, () => {
        let map = maps.get(namespace)
        if (map === undefined) {
          map = new Map()
          maps.set(namespace, map)
        }
        map.set(key, entry)
        const own = change(namespace, key, 'set', entry.revision, value, current)
        const changes: StateChange[] =
          expiredAt === undefined
            ? [own]
            : [change(namespace, key, 'expired', expiredAt, undefined, found), own]
        return { ok: true, actual, entry, changes }
      })
    },

    delete(namespace, key, { now, ifRevision }) {
      const durable = usable(namespace)
      const found = maps.get(namespace)?.get(key)
      const current = live(found, now)
      const actual = current?.revision ?? 0
      if (ifRevision !== undefined && ifRevision !== actual) return refused(actual)
      if (found === undefined) return { ok: true, actual, changes: [] }
      // A live entry is deleted; an expired one is removed as an expiry (no delete change).
      const reason: StateChangeReason = current === undefined ? 'expired' : 'delete'
      const at = ++revision
      return after(durable ? () => unpersist(namespace, key, at) : undefined, () => {
        remove(namespace, key)
        return {
          ok: true,
          actual,
          changes: [change(namespace, key, reason, at, undefined, found)],
        }
      })
    },

    expire(namespace, key, atRevision, now) {
      const durable = usable(namespace)
      const found = maps.get(namespace)?.get(key)
      if (found === undefined || found.revision !== atRevision) {
        return { ok: true, actual: live(found, now)?.revision ?? 0, changes: [] }
      }
      if (live(found, now) !== undefined) return { ok: true, actual: found.revision, changes: [] }
      const at = ++revision
      return after(durable ? () => unpersist(namespace, key, at) : undefined, () => {
        remove(namespace, key)
        return {
          ok: true,
          actual: 0,
          changes: [change(namespace, key, 'expired', at, undefined, found)],
        }
      })
    },
  }

  function remove(namespace: string, key: string): void {
    const map = maps.get(namespace)
    if (map === undefined) return
    map.delete(key)
    if (map.size === 0) maps.delete(namespace)
  }
}

function live(entry: StateEntry | undefined, now: number): StateEntry | undefined {
  return entry !== undefined && (entry.expiresAt === undefined || entry.expiresAt > now)
    ? entry
    : undefined
}

function refused(actual: number): BackendWriteResult {
  return { ok: false, actual, changes: [] }
}

/** A frozen change; `previous` only when the key had a live (or expired) entry before. */
function change(
  namespace: string,
  key: string,
  reason: StateChangeReason,
  revision: number,
  value: unknown,
  previous: StateEntry | undefined,
): StateChange {
  const out: StateChange = { namespace, key, revision, reason }
  if (reason === 'set') out.value = value
  if (previous !== undefined) out.previous = previous.value
  return Object.freeze(out)
}
