import { CoreError } from '@core/contracts'
import {
  type AdapterBatchOp,
  type AdapterEntry,
  type AdapterListOptions,
  type AdapterQuery,
  compareKeys,
  type JsonScalar,
  type QueryCondition,
  type StorageAdapter,
  type StorageAdapterOps,
  type StorageAdapterTransaction,
} from './adapter.js'
import { FifoLock } from './fifo-lock.js'

/**
 * Creates an in-memory {@link StorageAdapter}: documents live in this process only and are
 * lost when it exits. Meant for tests (`@core/testing`) and throw-away hubs; it passes the same
 * conformance suite as the SQLite and PostgreSQL adapters.
 *
 * Transactions run one at a time: while one is open, operations outside it wait for it to end
 * (as with SQLite). Rollback replays an undo log; nested transactions mark a position in it.
 *
 * @returns A ready adapter named `memory`.
 * @example
 * ```ts
 * const storage = createStorage(createMemoryAdapter())
 * await storage.set('lights', 'kitchen', { on: true })
 * ```
 * @public
 */
export function createMemoryAdapter(): StorageAdapter {
  const db = new MemoryDb()
  const lock = new FifoLock()
  let closed = false

  const guard = (): void => {
    if (closed) throw new CoreError('E_STORAGE', 'The memory storage adapter is closed')
  }
  // Outside a transaction, run at once when none is open, else wait for it to end.
  const outside = async <T>(run: () => T): Promise<T> => {
    guard()
    if (!lock.held) return run()
    await lock.acquire()
    try {
      guard()
      return run()
    } finally {
      lock.release()
    }
  }

  return {
    name: 'memory',
    get: (ns, key) => outside(() => db.get(ns, key)),
    set: (ns, key, json) => outside(() => db.set(ns, key, json, undefined)),
    delete: (ns, key) => outside(() => db.delete(ns, key, undefined)),
    has: (ns, key) => outside(() => db.get(ns, key) !== undefined),
    count: (ns, prefix) => outside(() => db.count(ns, prefix)),
    list: (ns, options) => outside(() => db.list(ns, options)),
    query: (ns, query) => outside(() => db.query(ns, query)),
    batch: (ns, ops) => outside(() => db.batch(ns, ops, undefined)),
    getSchemaVersion: (ns) => outside(() => db.versions.get(ns) ?? 0),
    setSchemaVersion: (ns, version) => outside(() => db.setVersion(ns, version, undefined)),
    async transaction<T>(fn: (tx: StorageAdapterTransaction) => Promise<T>): Promise<T> {
      guard()
      await lock.acquire()
      try {
        guard()
        const undo: Undo[] = []
        try {
          const result = await fn(db.ops(undo))
          return result
        } catch (error) {
          db.rollback(undo, 0)
          throw error
        }
      } finally {
        lock.release()
      }
    },
    async close(): Promise<void> {
      if (closed) return
      await lock.acquire()
      closed = true
      lock.release()
    },
  }
}

type Undo =
  | { ns: string; key: string; prev: string | undefined }
  | { ns: string; version: number | undefined }

class MemoryDb {
  readonly docs = new Map<string, Map<string, string>>()
  readonly sorted = new Map<string, string[]>()
  readonly versions = new Map<string, number>()

  ops(undo: Undo[] | undefined): StorageAdapterOps {
    const now = <T>(run: () => T): Promise<T> => {
      try {
        return Promise.resolve(run())
      } catch (error) {
        return Promise.reject(error)
      }
    }
    return {
      get: (ns, key) => now(() => this.get(ns, key)),
      set: (ns, key, json) => now(() => this.set(ns, key, json, undo)),
      delete: (ns, key) => now(() => this.delete(ns, key, undo)),
      has: (ns, key) => now(() => this.get(ns, key) !== undefined),
      count: (ns, prefix) => now(() => this.count(ns, prefix)),
      list: (ns, options) => now(() => this.list(ns, options)),
      query: (ns, query) => now(() => this.query(ns, query)),
      batch: (ns, ops) => now(() => this.batch(ns, ops, undo)),
      getSchemaVersion: (ns) => now(() => this.versions.get(ns) ?? 0),
      setSchemaVersion: (ns, version) => now(() => this.setVersion(ns, version, undo)),
      transaction: async <T>(fn: (tx: StorageAdapterTransaction) => Promise<T>): Promise<T> => {
        // Only reachable on a transaction handle: a savepoint is a position in the undo log.
        const log = undo ?? []
        const mark = log.length
        try {
          return await fn(this.ops(log))
        } catch (error) {
          this.rollback(log, mark)
          throw error
        }
      },
    }
  }

  get(ns: string, key: string): string | undefined {
    return this.docs.get(ns)?.get(key)
  }

  set(ns: string, key: string, json: string, undo: Undo[] | undefined): void {
    let docs = this.docs.get(ns)
    if (docs === undefined) {
      docs = new Map()
      this.docs.set(ns, docs)
    }
    const prev = docs.get(key)
    undo?.push({ ns, key, prev })
    if (prev === undefined) this.sorted.delete(ns)
    docs.set(key, json)
  }

  delete(ns: string, key: string, undo: Undo[] | undefined): boolean {
    const docs = this.docs.get(ns)
    const prev = docs?.get(key)
    if (docs === undefined || prev === undefined) return false
    undo?.push({ ns, key, prev })
    docs.delete(key)
    this.sorted.delete(ns)
    return true
  }

  setVersion(ns: string, version: number, undo: Undo[] | undefined): void {
    undo?.push({ ns, version: this.versions.get(ns) })
    this.versions.set(ns, version)
  }

  batch(ns: string, ops: AdapterBatchOp[], undo: Undo[] | undefined): void {
    // Every op was validated by the layer and none can fail here, so applying in order is atomic.
    for (const op of ops) {
      if (op.op === 'set') this.set(ns, op.key, op.json, undo)
      else this.delete(ns, op.key, undo)
    }
  }

  rollback(undo: Undo[], mark: number): void {
    for (let i = undo.length - 1; i >= mark; i--) {
      const u = undo[i]!
      if ('key' in u) {
        if (u.prev === undefined) this.delete(u.ns, u.key, undefined)
        else this.set(u.ns, u.key, u.prev, undefined)
      } else if (u.version === undefined) this.versions.delete(u.ns)
      else this.versions.set(u.ns, u.version)
    }
    undo.length = mark
  }

  keys(ns: string): string[] {
    let keys = this.sorted.get(ns)
    if (keys === undefined) {
      keys = [...(this.docs.get(ns)?.keys() ?? [])].sort(compareKeys)
      this.sorted.set(ns, keys)
    }
    return keys
  }

  count(ns: string, prefix: string): number {
    if (prefix === '') return this.docs.get(ns)?.size ?? 0
    let n = 0
    for (const key of this.docs.get(ns)?.keys() ?? []) if (key.startsWith(prefix)) n++
    return n
  }

  list(ns: string, options: AdapterListOptions): AdapterEntry[] {
    const keys = this.keys(ns)
    const docs = this.docs.get(ns)
    const out: AdapterEntry[] = []
    if (docs === undefined) return out
    const after = options.after
    const from =
      after !== undefined && compareKeys(after, options.prefix) > 0 ? after : options.prefix
    let i = lowerBound(keys, from)
    for (; i < keys.length && out.length < options.limit; i++) {
      const key = keys[i]!
      if (after !== undefined && compareKeys(key, after) <= 0) continue
      if (!key.startsWith(options.prefix)) {
        if (compareKeys(key, options.prefix) > 0) break
        continue
      }
      out.push({ key, json: docs.get(key)! })
    }
    return out
  }

  query(ns: string, query: AdapterQuery): AdapterEntry[] {
    const docs = this.docs.get(ns)
    if (docs === undefined) return []
    const hits: { key: string; json: string; doc: unknown }[] = []
    for (const key of this.keys(ns)) {
      const json = docs.get(key)!
      const doc: unknown = JSON.parse(json)
      if (query.where.every((c) => matches(doc, c))) hits.push({ key, json, doc })
    }
    const order = query.orderBy
    if (order !== undefined) {
      const sign = order.direction === 'desc' ? -1 : 1
      hits.sort((a, b) => {
        const c = compareForOrder(valueAt(a.doc, order.path), valueAt(b.doc, order.path))
        return c !== 0 ? sign * c : compareKeys(a.key, b.key)
      })
    }
    return hits.slice(0, query.limit).map(({ key, json }) => ({ key, json }))
  }
}

const MISSING: unique symbol = Symbol('missing')

function valueAt(doc: unknown, path: string[]): unknown {
  let cur = doc
  for (const segment of path) {
    if (
      typeof cur !== 'object' ||
      cur === null ||
      Array.isArray(cur) ||
      !Object.hasOwn(cur, segment)
    ) {
      return MISSING
    }
    cur = (cur as Record<string, unknown>)[segment]
  }
  return cur
}

function sameScalar(v: unknown, value: JsonScalar): boolean {
  return v === value && (typeof v !== 'object' || v === null)
}

function matches(doc: unknown, c: QueryCondition): boolean {
  const v = valueAt(doc, c.path)
  if (v === MISSING) return false
  switch (c.op) {
    case 'eq':
      return sameScalar(v, c.value)
    case 'in':
      return c.values.some((value) => sameScalar(v, value))
    default: {
      if (typeof v !== typeof c.value) return false
      const cmp =
        typeof v === 'number'
          ? v - (c.value as number)
          : compareKeys(v as string, c.value as string)
      return c.op === 'gt'
        ? cmp > 0
        : c.op === 'gte'
          ? cmp >= 0
          : c.op === 'lt'
            ? cmp < 0
            : cmp <= 0
    }
  }
}

/** Rank: missing < null < false < true < number < string < array/object. */
function rank(v: unknown): number {
  if (v === MISSING) return 0
  if (v === null) return 1
  if (v === false) return 2
  if (v === true) return 3
  if (typeof v === 'number') return 4
  if (typeof v === 'string') return 5
  return 6
}

function compareForOrder(a: unknown, b: unknown): number {
  const ra = rank(a)
  const rb = rank(b)
  if (ra !== rb) return ra - rb
  if (ra === 4) return (a as number) - (b as number)
  if (ra === 5) return compareKeys(a as string, b as string)
  return 0
}

function lowerBound(keys: string[], from: string): number {
  let lo = 0
  let hi = keys.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if (compareKeys(keys[mid]!, from) < 0) lo = mid + 1
    else hi = mid
  }
  return lo
}
