import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { CoreError } from '@core/contracts'
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
import Database from 'better-sqlite3'
import { applyMigrations } from './migrate.js'
import { compileQuery } from './query-sql.js'

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

const DOCS = 'core_storage_documents'
const VERSIONS = 'core_storage_schema_versions'
const MIGRATIONS_FOLDER = fileURLToPath(new URL('../drizzle', import.meta.url))
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
  const {
    filename,
    synchronous = 'NORMAL',
    busyTimeoutMs = 5000,
  } = options ?? ({} as CreateSqliteAdapterOptions)
  if (typeof filename !== 'string' || filename === '') {
    throw new CoreError(
      'E_VALIDATION',
      'createSqliteAdapter needs a filename: a path such as ./data/hub.db, or :memory:',
      {
        details: { filename },
      },
    )
  }
  if (synchronous !== 'NORMAL' && synchronous !== 'FULL') {
    throw new CoreError(
      'E_VALIDATION',
      `Invalid synchronous ${JSON.stringify(synchronous)}: use "NORMAL" or "FULL"`,
      {
        details: { synchronous },
      },
    )
  }
  if (!Number.isFinite(busyTimeoutMs) || busyTimeoutMs < 0) {
    throw new CoreError(
      'E_VALIDATION',
      `Invalid busyTimeoutMs ${String(busyTimeoutMs)}: use a number of ms >= 0`,
      {
        details: { busyTimeoutMs },
      },
    )
  }
  let db: Database.Database
  try {
    if (filename !== ':memory:' && !filename.startsWith('file:'))
      mkdirSync(dirname(filename), { recursive: true })
    db = new Database(filename, { timeout: 0 })
  } catch (error) {
    throw new CoreError(
      'E_STORAGE',
      `Cannot open SQLite database ${filename}: ${messageOf(error)}${bindingsHint(error)}`,
      {
        cause: error,
        details: { filename },
      },
    )
  }
  const busy: BusyCounter = { retries: 0 }
  const retry = <T>(what: string, run: () => T): Promise<T> =>
    retryBusy(run, busyTimeoutMs, busy, what)
  try {
    await retry('switch to WAL', () => db.pragma('journal_mode = WAL'))
    db.pragma(`synchronous = ${synchronous}`)
    await applyMigrations(db, MIGRATIONS_FOLDER, () =>
      retry('begin the migration transaction', () => {
        db.exec('BEGIN IMMEDIATE')
      }),
    )
  } catch (error) {
    db.close()
    if (CoreError.is(error)) throw error
    throw new CoreError(
      'E_STORAGE',
      `Cannot prepare SQLite database ${filename}: ${messageOf(error)}`,
      {
        cause: error,
        details: { filename },
      },
    )
  }
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

interface Statements {
  get: Database.Statement
  set: Database.Statement
  delete: Database.Statement
  has: Database.Statement
  countAll: Database.Statement
  countFrom: Database.Statement
  countRange: Database.Statement
  listFrom: Database.Statement
  listFromTo: Database.Statement
  listAfter: Database.Statement
  listAfterTo: Database.Statement
  getVersion: Database.Statement
  setVersion: Database.Statement
  begin: Database.Statement
  commit: Database.Statement
  rollback: Database.Statement
}

function prepareStatements(db: Database.Database): Statements {
  const list = (lower: '>' | '>=', upper: boolean): Database.Statement =>
    db.prepare(
      `SELECT key, doc AS json FROM ${DOCS} WHERE namespace = ? AND key ${lower} ?${upper ? ' AND key < ?' : ''} ORDER BY key LIMIT ?`,
    )
  return {
    get: db.prepare(`SELECT doc FROM ${DOCS} WHERE namespace = ? AND key = ?`).pluck(),
    set: db.prepare(
      `INSERT INTO ${DOCS} (namespace, key, doc) VALUES (?, ?, ?) ON CONFLICT (namespace, key) DO UPDATE SET doc = excluded.doc`,
    ),
    delete: db.prepare(`DELETE FROM ${DOCS} WHERE namespace = ? AND key = ?`),
    has: db.prepare(`SELECT 1 FROM ${DOCS} WHERE namespace = ? AND key = ?`).pluck(),
    countAll: db.prepare(`SELECT count(*) FROM ${DOCS} WHERE namespace = ?`).pluck(),
    countFrom: db.prepare(`SELECT count(*) FROM ${DOCS} WHERE namespace = ? AND key >= ?`).pluck(),
    countRange: db
      .prepare(`SELECT count(*) FROM ${DOCS} WHERE namespace = ? AND key >= ? AND key < ?`)
      .pluck(),
    listFrom: list('>=', false),
    listFromTo: list('>=', true),
    listAfter: list('>', false),
    listAfterTo: list('>', true),
    getVersion: db.prepare(`SELECT version FROM ${VERSIONS} WHERE namespace = ?`).pluck(),
    setVersion: db.prepare(
      `INSERT INTO ${VERSIONS} (namespace, version, updated_at) VALUES (?, ?, ?) ON CONFLICT (namespace) DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at`,
    ),
    begin: db.prepare('BEGIN IMMEDIATE'),
    commit: db.prepare('COMMIT'),
    rollback: db.prepare('ROLLBACK'),
  }
}

/** Runs `run`, retrying on SQLITE_BUSY with backoff 1, 2, 4 … 100 ms until `timeoutMs` passed. */
/** Attempts repeated because the database was busy, for `busyRetries()`. */
interface BusyCounter {
  retries: number
}

async function retryBusy<T>(
  run: () => T,
  timeoutMs: number,
  busy: BusyCounter,
  what: string,
  ns?: string,
  key?: string,
): Promise<T> {
  const start = Date.now()
  let delay = 1
  for (;;) {
    try {
      return run()
    } catch (error) {
      if (!isBusy(error)) throw storageError(error, what, ns, key)
      const waited = Date.now() - start
      if (waited >= timeoutMs) {
        throw new CoreError(
          'E_STORAGE',
          `SQLite database is locked by another connection: could not ${what}${target(ns, key)} within ${timeoutMs} ms; check for another process holding a long transaction, or raise busyTimeoutMs`,
          { cause: error, details: { namespace: ns, key, waitedMs: waited } },
        )
      }
      busy.retries++
      await new Promise((resolve) => setTimeout(resolve, Math.min(delay, timeoutMs - waited)))
      delay = Math.min(delay * 2, 100)
    }
  }
}

function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code
  return (
    typeof code === 'string' &&
    (code === 'SQLITE_BUSY' || code.startsWith('SQLITE_BUSY_') || code === 'SQLITE_LOCKED')
  )
}

function storageError(error: unknown, what: string, ns?: string, key?: string): CoreError {
  if (CoreError.is(error)) return error
  const code = (error as { code?: unknown } | null)?.code
  return new CoreError(
    'E_STORAGE',
    `SQLite failed to ${what}${target(ns, key)}: ${messageOf(error)}`,
    {
      cause: error,
      details: { namespace: ns, key, sqliteCode: typeof code === 'string' ? code : undefined },
    },
  )
}

function closedError(): CoreError {
  return new CoreError('E_STORAGE', 'The SQLite storage adapter is closed')
}

function target(ns: string | undefined, key: string | undefined): string {
  return ns === undefined ? '' : key === undefined ? ` "${ns}"` : ` "${ns}"/"${key}"`
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/**
 * The fix for better-sqlite3's native module missing or built for another Node.js: pnpm 10 runs
 * no dependency build scripts unless allowed, so the addon is never compiled.
 */
function bindingsHint(error: unknown): string {
  const message = messageOf(error)
  if (
    !/Could not locate the bindings file|better_sqlite3\.node|NODE_MODULE_VERSION|ERR_DLOPEN_FAILED/.test(
      message,
    )
  )
    return ''
  return (
    '. better-sqlite3 has no native module built for this Node.js: with pnpm, allow its build ' +
    '(`pnpm approve-builds`, or "onlyBuiltDependencies": ["better-sqlite3"] in pnpm-workspace.yaml ' +
    'or package.json "pnpm") and run `pnpm rebuild better-sqlite3`; with npm, run `npm rebuild better-sqlite3`'
  )
}
