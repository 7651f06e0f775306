import {
  type AdapterBatchOp,
  type AdapterEntry,
  type AdapterListOptions,
  type AdapterQuery,
  compareKeys,
  FifoLock,
  prefixEnd,
  type StorageAdapter,
  type StorageAdapterOps,
  type StorageAdapterTransaction,
} from '@core/storage'
import type Database from 'better-sqlite3'
import { type BusyCounter, isBusy, retryBusy } from './busy-retry.js'
import { openDatabase } from './open-database.js'
import { compileQuery } from './query-sql.js'
import { closedError, storageError } from './sqlite-errors.js'
import { prepareStatements, type Statements } from './statements.js'

/** Options of {@link createSqliteAdapter}. @public */
export interface CreateSqliteAdapterOptions {
  /**
   * The database file; its folder is created if missing. `:memory:` gives a private in-memory
   * database (for tests; gone on close). The hub's default is `./data/hub.db`.
   */
  filename: string
  /**
   * SQLite's `synchronous` setting (the journal is always WAL):
   * - `NORMAL`: a committed write survives the process crashing or being killed, but the last
   *   transactions before a power loss or OS crash may be lost (the WAL is fsynced at
   *   checkpoints, not at each commit). The database stays consistent either way.
   * - `FULL`: the WAL is fsynced at every commit, so a committed write also survives power loss
   *   and OS crashes (on storage that honours fsync), at the cost of one fsync per commit.
   * @defaultValue 'NORMAL'
   */
  synchronous?: 'NORMAL' | 'FULL'
  /**
   * How long to keep retrying while another connection holds the write lock (`SQLITE_BUSY`),
   * in ms, with exponential backoff from 1 ms up to 100 ms between tries; then `E_STORAGE`.
   * @defaultValue 5000
   */
  busyTimeoutMs?: number
}

const QUERY_CACHE_SIZE = 100

/**
 * Creates the SQLite {@link StorageAdapter} (the embedded default), on better-sqlite3 with the
 * tables of drizzle-kit-generated migrations (applied on open, recorded in
 * `core_storage_migrations`). One connection in WAL mode; hot operations use prepared
 * statements; queries use SQLite's JSON functions with every value bound.
 *
 * Transactions run one at a time on the connection (`BEGIN IMMEDIATE`, nested ones as
 * `SAVEPOINT`s): while one is open, operations from outside it wait for it to end. Other
 * processes on the same file are kept out by SQLite's locks; `SQLITE_BUSY` is retried with
 * bounded backoff (`busyTimeoutMs`), then `E_STORAGE`.
 *
 * @param options - `filename`, `synchronous` (`NORMAL` default, or `FULL`), `busyTimeoutMs`.
 * @returns A ready adapter named `sqlite`.
 * @throws {@link @core/contracts!CoreError} `E_VALIDATION` for bad options.
 * @throws {@link @core/contracts!CoreError} `E_STORAGE` when the file cannot be opened, a migration fails (rolled
 *   back whole) or the file was migrated by a newer version of this package.
 * @see SQLite "Write-Ahead Logging" and "PRAGMA synchronous"
 * @example
 * ```ts
 * import { createStorage } from '@core/storage'
 * import { createSqliteAdapter } from '@core/storage-sqlite'
 *
 * const storage = createStorage(await createSqliteAdapter({ filename: './data/hub.db' }))
 * await storage.set('lights', 'kitchen', { on: true })
 * await storage.close()
 * ```
 * @public
 */
export async function createSqliteAdapter(
  options: CreateSqliteAdapterOptions,
): Promise<StorageAdapter> {
  const { db, busyTimeoutMs, busy } = await openDatabase(options)
  return new SqliteAdapter(db, busyTimeoutMs, busy)
}

class SqliteAdapter implements StorageAdapter {
  readonly name = 'sqlite'
  private readonly lock = new FifoLock()
  private closing = false
  private readonly s: Statements
  private readonly direct: StorageAdapterOps
  private readonly queries = new Map<string, Database.Statement>()
  private readonly batchImmediate: (ns: string, ops: AdapterBatchOp[]) => void

  constructor(
    private readonly db: Database.Database,
    private readonly busyTimeoutMs: number,
    private readonly busy: BusyCounter,
  ) {
    this.s = prepareStatements(db)
    const batch = db.transaction((ns: string, ops: AdapterBatchOp[]) => this.applyBatch(ns, ops))
    this.batchImmediate = (ns, ops) => batch.immediate(ns, ops)
    this.direct = this.ops(0)
  }

  busyRetries(): number {
    return this.busy.retries
  }

  // --- outside any transaction: run now, or wait for the open transaction to end --------------

  private outside<T>(
    what: string,
    ns: string | undefined,
    key: string | undefined,
    run: () => T,
  ): Promise<T> {
    if (this.closing) return Promise.reject(closedError())
    if (!this.lock.held) {
      try {
        return Promise.resolve(run())
      } catch (error) {
        if (!isBusy(error)) return Promise.reject(storageError(error, what, ns, key))
      }
    }
    return this.queued(what, ns, key, run)
  }

  private async queued<T>(
    what: string,
    ns: string | undefined,
    key: string | undefined,
    run: () => T,
  ): Promise<T> {
    await this.lock.acquire()
    try {
      if (!this.db.open) throw closedError()
      return await retryBusy(run, this.busyTimeoutMs, this.busy, what, ns, key)
    } finally {
      this.lock.release()
    }
  }

  get(ns: string, key: string): Promise<string | undefined> {
    return this.outside('get', ns, key, () => this.s.get.get(ns, key) as string | undefined)
  }
  set(ns: string, key: string, json: string): Promise<void> {
    return this.outside('set', ns, key, () => {
      this.s.set.run(ns, key, json)
    })
  }
  delete(ns: string, key: string): Promise<boolean> {
    return this.outside('delete', ns, key, () => this.s.delete.run(ns, key).changes > 0)
  }
  has(ns: string, key: string): Promise<boolean> {
    return this.outside('check', ns, key, () => this.s.has.get(ns, key) !== undefined)
  }
  count(ns: string, prefix: string): Promise<number> {
    return this.outside('count', ns, undefined, () => this.countNow(ns, prefix))
  }
  list(ns: string, options: AdapterListOptions): Promise<AdapterEntry[]> {
    return this.outside('list', ns, undefined, () => this.listNow(ns, options))
  }
  query(ns: string, query: AdapterQuery): Promise<AdapterEntry[]> {
    return this.outside('query', ns, undefined, () => this.queryNow(ns, query))
  }
  batch(ns: string, ops: AdapterBatchOp[]): Promise<void> {
    return this.outside('apply a batch to', ns, undefined, () => this.batchImmediate(ns, ops))
  }
  getSchemaVersion(ns: string): Promise<number> {
    return this.outside('read the schema version of', ns, undefined, () => this.versionNow(ns))
  }
  setSchemaVersion(ns: string, version: number): Promise<void> {
    return this.outside('record the schema version of', ns, undefined, () => {
      this.s.setVersion.run(ns, version, Date.now())
    })
  }

  async transaction<T>(fn: (tx: StorageAdapterTransaction) => Promise<T>): Promise<T> {
    if (this.closing) throw closedError()
    await this.lock.acquire()
    try {
      if (!this.db.open) throw closedError()
      await retryBusy(
        () => this.s.begin.run(),
        this.busyTimeoutMs,
        this.busy,
        'begin a transaction',
      )
      let result: T
      try {
        result = await fn(this.direct)
      } catch (error) {
        this.rollbackQuietly()
        throw error
      }
      try {
        this.s.commit.run()
      } catch (error) {
        this.rollbackQuietly()
        throw storageError(error, 'commit a transaction')
      }
      return result
    } finally {
      this.lock.release()
    }
  }

  async close(): Promise<void> {
    if (this.closing) return
    this.closing = true
    await this.lock.acquire()
    try {
      this.db.close()
    } finally {
      this.lock.release()
    }
  }

  // --- inside a transaction: the connection is ours, run at once --------------------------------

  /** The operations of a transaction handle at nesting `depth` (0 = the top-level transaction). */
  private ops(depth: number): StorageAdapterOps {
    const now = <T>(
      what: string,
      ns: string | undefined,
      key: string | undefined,
      run: () => T,
    ): Promise<T> => {
      try {
        return Promise.resolve(run())
      } catch (error) {
        return Promise.reject(storageError(error, what, ns, key))
      }
    }
    return {
      get: (ns, key) => now('get', ns, key, () => this.s.get.get(ns, key) as string | undefined),
      set: (ns, key, json) =>
        now('set', ns, key, () => {
          this.s.set.run(ns, key, json)
        }),
      delete: (ns, key) => now('delete', ns, key, () => this.s.delete.run(ns, key).changes > 0),
      has: (ns, key) => now('check', ns, key, () => this.s.has.get(ns, key) !== undefined),
      count: (ns, prefix) => now('count', ns, undefined, () => this.countNow(ns, prefix)),
      list: (ns, options) => now('list', ns, undefined, () => this.listNow(ns, options)),
      query: (ns, query) => now('query', ns, undefined, () => this.queryNow(ns, query)),
      // better-sqlite3 turns a transaction function called inside a transaction into a SAVEPOINT.
      batch: (ns, ops) =>
        now('apply a batch to', ns, undefined, () => this.batchImmediate(ns, ops)),
      getSchemaVersion: (ns) =>
        now('read the schema version of', ns, undefined, () => this.versionNow(ns)),
      setSchemaVersion: (ns, version) =>
        now('record the schema version of', ns, undefined, () => {
          this.s.setVersion.run(ns, version, Date.now())
        }),
      transaction: async <T>(fn: (tx: StorageAdapterTransaction) => Promise<T>): Promise<T> => {
        const name = `core_sp${depth + 1}`
        try {
          this.db.exec(`SAVEPOINT ${name}`)
        } catch (error) {
          throw storageError(error, 'open a nested transaction')
        }
        let result: T
        try {
          result = await fn(this.ops(depth + 1))
        } catch (error) {
          try {
            this.db.exec(`ROLLBACK TO ${name}; RELEASE ${name}`)
          } catch {
            // The engine already rolled the whole transaction back; the commit will report it.
          }
          throw error
        }
        try {
          this.db.exec(`RELEASE ${name}`)
        } catch (error) {
          throw storageError(error, 'commit a nested transaction')
        }
        return result
      },
    }
  }

  // --- the statements -------------------------------------------------------------------------

  private applyBatch(ns: string, ops: AdapterBatchOp[]): void {
    const { set, delete: del } = this.s
    for (const op of ops) {
      if (op.op === 'set') set.run(ns, op.key, op.json)
      else del.run(ns, op.key)
    }
  }

  private countNow(ns: string, prefix: string): number {
    if (prefix === '') return this.s.countAll.get(ns) as number
    const end = prefixEnd(prefix)
    return (
      end === undefined ? this.s.countFrom.get(ns, prefix) : this.s.countRange.get(ns, prefix, end)
    ) as number
  }

  private listNow(ns: string, options: AdapterListOptions): AdapterEntry[] {
    const { prefix, after, limit } = options
    const end = prefix === '' ? undefined : prefixEnd(prefix)
    const exclusive = after !== undefined && compareKeys(after, prefix) >= 0
    const from = exclusive ? after : prefix
    const s = this.s
    const stmt = exclusive
      ? end === undefined
        ? s.listAfter
        : s.listAfterTo
      : end === undefined
        ? s.listFrom
        : s.listFromTo
    return (
      end === undefined ? stmt.all(ns, from, limit) : stmt.all(ns, from, end, limit)
    ) as AdapterEntry[]
  }

  private queryNow(ns: string, query: AdapterQuery): AdapterEntry[] {
    const { sql, params } = compileQuery(ns, query)
    let stmt = this.queries.get(sql)
    if (stmt === undefined) {
      stmt = this.db.prepare(sql)
      if (this.queries.size >= QUERY_CACHE_SIZE)
        this.queries.delete(this.queries.keys().next().value!)
      this.queries.set(sql, stmt)
    }
    return stmt.all(...params) as AdapterEntry[]
  }

  private versionNow(ns: string): number {
    return (this.s.getVersion.get(ns) as number | undefined) ?? 0
  }

  private rollbackQuietly(): void {
    try {
      if (this.db.inTransaction) this.s.rollback.run()
    } catch {
      // Nothing more can be done; the connection stays usable.
    }
  }
}
