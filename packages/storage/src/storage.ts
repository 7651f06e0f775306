import { assertNamespace, CoreError, type JsonValue } from '@core/contracts'
import type { AdapterBatchOp, AdapterEntry, StorageAdapter, StorageAdapterOps } from './adapter.js'
import { iterateList } from './iterate.js'
import { StorageRecorder, trackStorage } from './metrics.js'
import type {
  BatchOp,
  CountOptions,
  CreateStorageOptions,
  IterateOptions,
  ListOptions,
  ListPage,
  NamespacedStorage,
  Storage,
  StorageEntry,
  StorageOps,
  StorageTransaction,
} from './types.js'
import {
  assertStorageKey,
  checkBatchArray,
  checkLimit,
  checkPrefix,
  DEFAULT_MAX_VALUE_BYTES,
  decodeCursor,
  encodeCursor,
  normaliseQuery,
  parse,
  type QueryOptions,
  serialise,
} from './validate.js'

/**
 * Creates the storage API over an adapter: validates every namespace, key, value and query,
 * copies values in and out, and maps every failure to a {@link @core/contracts!CoreError}.
 *
 * Guarantees:
 * - Values are JSON documents: stored as a deep copy, returned as a fresh copy; object member
 *   order is not preserved. `__proto__` and `constructor` members are plain data. Strings are
 *   stored verbatim (SQL-looking text included: adapters bind values, never splice them).
 * - `list` pages by key (code point order) with an opaque cursor holding the last key seen:
 *   keys inserted or deleted while paging never make a key present throughout appear twice
 *   or be skipped; keys inserted after the cursor's key show up on a later page.
 * - `query` conditions: a plain scalar means equality; `{ gt, gte, lt, lte }` compare numbers
 *   with numbers and strings with strings (code point order); `in` is equality with any of a
 *   list. A path that does not lead to a value (absent member, or through a non-object)
 *   matches nothing, for every operator; values of another JSON type never match. `in: []`
 *   matches nothing.
 * - `batch` is atomic. `transaction(fn)` commits when `fn` fulfils and rolls back when it
 *   rejects, re-throwing the same error. Nested, `tx.transaction(fn)` is a savepoint: on
 *   failure only its writes are undone and the outer transaction continues; on success its
 *   writes commit with the outer one. While a nested transaction runs, its parent handle
 *   refuses calls (`E_CONFLICT`), and a handle refuses calls after its function settled
 *   (`E_CONFLICT`). After an operation inside a transaction fails with `E_STORAGE`, the
 *   transaction refuses further calls (`E_CONFLICT`) and rolls back, throwing that error.
 * - Inside `transaction(fn)`, use `tx`: the outer storage does not see uncommitted writes, and
 *   with single-connection adapters (memory, SQLite) its calls wait until the transaction ends,
 *   so awaiting one from inside `fn` never finishes.
 *
 * @param adapter - A ready {@link StorageAdapter} (memory, SQLite, PostgreSQL…).
 * @param options - `maxValueBytes` (default 1 MiB).
 * @returns The {@link Storage}.
 * @throws {@link @core/contracts!CoreError} `E_VALIDATION` if `maxValueBytes` is not a positive integer. Its
 *   methods reject with `E_VALIDATION` (bad namespace, key, prefix, cursor, limit, value, query
 *   or batch; value over the limit), `E_STORAGE` (driver failure, with `cause`; storage closed)
 *   and `E_CONFLICT` (transaction handle misuse, or a deadlock/serialisation abort).
 * @example
 * ```ts
 * const storage = createStorage(createMemoryAdapter())
 * await storage.set('lights', 'kitchen', { on: true, level: 80 })
 * const bright = await storage.query('lights', { where: { level: { gte: 50 } } })
 * await storage.transaction(async (tx) => {
 *   const n = (await tx.get<number>('lights', 'count')) ?? 0
 *   await tx.set('lights', 'count', n + 1)
 * })
 * ```
 * @public
 */
export function createStorage(
  adapter: StorageAdapter,
  options: CreateStorageOptions = {},
): Storage {
  const maxValueBytes = options.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES
  if (!Number.isSafeInteger(maxValueBytes) || maxValueBytes < 1) {
    throw new CoreError(
      'E_VALIDATION',
      `Invalid maxValueBytes ${String(maxValueBytes)}: use a positive integer number of bytes`,
      { details: { maxValueBytes } },
    )
  }
  const recorder = new StorageRecorder(adapter)
  const shared: Shared = { adapter, maxValueBytes, closed: false, recorder }
  const root = new Handle(shared, adapter, undefined)
  const storage = root.api() as Storage
  trackStorage(storage, recorder)
  return Object.assign(storage, {
    adapterName: adapter.name,
    maxValueBytes,
    async close(): Promise<void> {
      if (shared.closed) return
      shared.closed = true
      await adapter.close()
    },
  })
}

interface Shared {
  adapter: StorageAdapter
  maxValueBytes: number
  closed: boolean
  recorder: StorageRecorder
}

/** The root storage (no parent) or one transaction level. */
class Handle {
  /** `busy` while a nested transaction opened from this handle runs. */
  state: 'open' | 'busy' | 'done' = 'open'
  /** The first adapter failure inside this transaction: it can then only roll back. */
  failure: CoreError | undefined

  constructor(
    readonly shared: Shared,
    readonly target: StorageAdapterOps,
    readonly parent: Handle | undefined,
  ) {}

  check(): void {
    if (this.parent === undefined) {
      if (this.shared.closed) {
        throw new CoreError('E_STORAGE', `Storage (${this.shared.adapter.name}) is closed`)
      }
      return
    }
    if (this.state === 'open' && this.failure === undefined) return
    if (this.state === 'done') {
      throw new CoreError(
        'E_CONFLICT',
        'This transaction has already ended: use the storage (or a new transaction) instead of a kept transaction handle',
      )
    }
    if (this.state === 'busy') {
      throw new CoreError(
        'E_CONFLICT',
        'A nested transaction opened from this handle is still running: use the nested handle until it ends',
      )
    }
    throw new CoreError(
      'E_CONFLICT',
      `An earlier operation of this transaction failed (${this.failure?.message}); it will roll back, so let the error propagate`,
      { cause: this.failure },
    )
  }

  /** Runs one adapter call, mapping failures to CoreError and marking the transaction failed. */
  async call<T>(
    what: string,
    namespace: string,
    key: string | undefined,
    run: () => Promise<T>,
    aborts = true,
  ): Promise<T> {
    const startedAt = performance.now()
    try {
      const out = await run()
      this.shared.recorder.record(what, 'ok', startedAt)
      return out
    } catch (error) {
      const err = wrapAdapterError(error, this.shared.adapter.name, what, namespace, key)
      this.shared.recorder.record(what, err.code, startedAt)
      if (aborts && this.parent !== undefined && this.failure === undefined) {
        this.failure = err
      }
      throw err
    }
  }

  ns(namespace: unknown): string {
    assertNamespace(namespace, 'storage namespace')
    return namespace
  }

  api(): StorageOps {
    const h = this
    const max = this.shared.maxValueBytes
    const ops: StorageOps = {
      async get<T extends JsonValue = JsonValue>(
        namespace: string,
        key: string,
      ): Promise<T | undefined> {
        h.check()
        const ns = h.ns(namespace)
        assertStorageKey(key, ns)
        const json = await h.call('get', ns, key, () => h.target.get(ns, key))
        return json === undefined ? undefined : (parse(json, ns, key) as T)
      },
      async set(namespace: string, key: string, value: unknown): Promise<void> {
        h.check()
        const ns = h.ns(namespace)
        assertStorageKey(key, ns)
        const json = serialise(value, ns, key, max)
        await h.call('set', ns, key, () => h.target.set(ns, key, json))
      },
      async delete(namespace: string, key: string): Promise<boolean> {
        h.check()
        const ns = h.ns(namespace)
        assertStorageKey(key, ns)
        return h.call('delete', ns, key, () => h.target.delete(ns, key))
      },
      async has(namespace: string, key: string): Promise<boolean> {
        h.check()
        const ns = h.ns(namespace)
        assertStorageKey(key, ns)
        return h.call('has', ns, key, () => h.target.has(ns, key))
      },
      async count(namespace: string, options: CountOptions = {}): Promise<number> {
        h.check()
        const ns = h.ns(namespace)
        const prefix = checkPrefix(options?.prefix)
        return h.call('count', ns, undefined, () => h.target.count(ns, prefix))
      },
      async list<T extends JsonValue = JsonValue>(
        namespace: string,
        options: ListOptions = {},
      ): Promise<ListPage<T>> {
        h.check()
        const ns = h.ns(namespace)
        const prefix = checkPrefix(options?.prefix)
        const limit = checkLimit(options?.limit)
        const after = decodeCursor(options?.cursor)
        const listOptions =
          after === undefined ? { prefix, limit: limit + 1 } : { prefix, after, limit: limit + 1 }
        const rows = await h.call('list', ns, undefined, () => h.target.list(ns, listOptions))
        const more = rows.length > limit
        const items = toEntries<T>(more ? rows.slice(0, limit) : rows, ns)
        const page: ListPage<T> = { items }
        if (more) page.cursor = encodeCursor(items[items.length - 1]!.key)
        return page
      },
      iterate<T extends JsonValue = JsonValue>(
        namespace: string,
        options?: IterateOptions,
      ): AsyncIterable<StorageEntry<T>> {
        return iterateList<T>((page) => ops.list<T>(namespace, page), options)
      },
      async query<T extends JsonValue = JsonValue>(
        namespace: string,
        options?: QueryOptions,
      ): Promise<StorageEntry<T>[]> {
        h.check()
        const ns = h.ns(namespace)
        const query = normaliseQuery(options)
        if (query === undefined) return []
        const rows = await h.call('query', ns, undefined, () => h.target.query(ns, query))
        return toEntries<T>(rows, ns)
      },
      async batch(namespace: string, ops: BatchOp[]): Promise<void> {
        h.check()
        const ns = h.ns(namespace)
        const list = checkBatchArray(ops)
        const adapterOps: AdapterBatchOp[] = new Array(list.length)
        for (let i = 0; i < list.length; i++) adapterOps[i] = toAdapterOp(list[i], i, ns, max)
        if (adapterOps.length === 0) return
        await h.call('batch', ns, undefined, () => h.target.batch(ns, adapterOps), false)
      },
      transaction<T>(fn: (tx: StorageTransaction) => Promise<T>): Promise<T> {
        return h.transaction(fn)
      },
      forNamespace(namespace: string): NamespacedStorage {
        return bind(ops, h.ns(namespace))
      },
      async schemaVersion(namespace: string): Promise<number> {
        h.check()
        const ns = h.ns(namespace)
        return h.call('read the schema version of', ns, undefined, () =>
          h.target.getSchemaVersion(ns),
        )
      },
      async setSchemaVersion(namespace: string, version: number): Promise<void> {
        h.check()
        const ns = h.ns(namespace)
        if (!Number.isSafeInteger(version) || version < 0) {
          throw new CoreError(
            'E_VALIDATION',
            `Invalid schema version ${String(version)} for "${ns}": use an integer >= 0`,
            { details: { namespace: ns, version } },
          )
        }
        await h.call('record the schema version of', ns, undefined, () =>
          h.target.setSchemaVersion(ns, version),
        )
      },
    }
    return ops
  }

  async transaction<T>(fn: (tx: StorageTransaction) => Promise<T>): Promise<T> {
    this.check()
    if (typeof fn !== 'function') {
      throw new CoreError('E_VALIDATION', 'transaction() takes an async function (tx) => …')
    }
    const nested = this.parent !== undefined
    if (nested) this.state = 'busy'
    let fnError: { error: unknown } | undefined
    try {
      return await this.target.transaction(async (adapterTx) => {
        const child = new Handle(this.shared, adapterTx, this)
        try {
          const result = await fn(child.api())
          if (child.failure !== undefined) throw child.failure
          return result
        } catch (error) {
          fnError = { error }
          throw error
        } finally {
          child.state = 'done'
        }
      })
    } catch (error) {
      if (fnError !== undefined && error === fnError.error) throw error
      throw wrapAdapterError(
        error,
        this.shared.adapter.name,
        'run a transaction on',
        undefined,
        undefined,
      )
    } finally {
      if (nested) this.state = 'open'
    }
  }
}

function bind(ops: StorageOps, namespace: string): NamespacedStorage {
  return {
    namespace,
    get: (key) => ops.get(namespace, key),
    set: (key, value) => ops.set(namespace, key, value),
    delete: (key) => ops.delete(namespace, key),
    has: (key) => ops.has(namespace, key),
    count: (options) => ops.count(namespace, options),
    list: (options) => ops.list(namespace, options),
    iterate: (options) => ops.iterate(namespace, options),
    query: (options) => ops.query(namespace, options),
    batch: (batchOps) => ops.batch(namespace, batchOps),
    transaction: (fn) => ops.transaction((tx) => fn(tx.forNamespace(namespace))),
  }
}

function toEntries<T extends JsonValue>(
  rows: AdapterEntry[],
  namespace: string,
): StorageEntry<T>[] {
  const out: StorageEntry<T>[] = new Array(rows.length)
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!
    out[i] = { key: row.key, value: parse(row.json, namespace, row.key) as T }
  }
  return out
}

function toAdapterOp(op: unknown, index: number, namespace: string, max: number): AdapterBatchOp {
  if (typeof op === 'object' && op !== null) {
    const { op: kind, key } = op as { op?: unknown; key?: unknown }
    if (kind === 'set' || kind === 'delete') {
      try {
        assertStorageKey(key, namespace)
        if (kind === 'delete') return { op: 'delete', key }
        if (!('value' in op)) throw new CoreError('E_VALIDATION', 'a set needs a value')
        return {
          op: 'set',
          key,
          json: serialise((op as { value: unknown }).value, namespace, key, max),
        }
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error)
        throw new CoreError(
          'E_VALIDATION',
          `Invalid batch operation #${index}: ${reason}; nothing was applied`,
          {
            cause: error,
            details: { index, ...(CoreError.is(error) ? error.details : {}) },
          },
        )
      }
    }
  }
  throw new CoreError(
    'E_VALIDATION',
    `Invalid batch operation #${index}: use { op: "set", key, value } or { op: "delete", key }; nothing was applied`,
    { details: { index } },
  )
}

function wrapAdapterError(
  error: unknown,
  adapter: string,
  what: string,
  namespace: string | undefined,
  key: string | undefined,
): CoreError {
  if (CoreError.is(error)) return error
  const target =
    namespace === undefined
      ? ''
      : key === undefined
        ? ` "${namespace}"`
        : ` "${namespace}"/"${key}"`
  const reason = error instanceof Error ? error.message : String(error)
  return new CoreError('E_STORAGE', `Storage (${adapter}) failed to ${what}${target}: ${reason}`, {
    cause: error,
    details: { adapter, namespace, key },
  })
}
