import { CoreError } from '@core/contracts'
import type {
  AdapterBatchOp,
  AdapterEntry,
  AdapterListOptions,
  AdapterQuery,
  StorageAdapter,
  StorageAdapterOps,
  StorageAdapterTransaction,
} from '@core/storage'
import type { Sql, TransactionSql } from 'postgres'
import { type CreatePostgresAdapterOptions, openPool, resolveOptions } from './connection.js'
import { type Doing, isConnectionLoss, never, toStorageError } from './errors.js'
import { applyMigrations } from './migrate.js'
import {
  type Built,
  buildCount,
  buildList,
  buildQuery,
  buildStatements,
  type Statements,
} from './statements.js'

/**
 * Creates a PostgreSQL {@link StorageAdapter} for `createStorage()` of `@core/storage`:
 * documents are rows of `core_documents` (JSONB values) in the chosen schema, reached through a
 * postgres.js connection pool.
 *
 * Opening connects, creates the schema if missing and applies the adapter's own migrations
 * (drizzle-kit SQL shipped in the package), in one transaction under an advisory lock, so
 * concurrent openers never apply one twice; the promise resolves once the adapter is ready.
 *
 * Guarantees (beyond the adapter contract of `@core/storage`):
 * - Writes outside a transaction are each one statement, so atomic; `batch` is one statement
 *   too (a data-modifying CTE when it holds both sets and deletes).
 * - Transactions run on one pooled connection at PostgreSQL's default READ COMMITTED isolation;
 *   `get`/`has` through a transaction handle use `SELECT … FOR UPDATE`, and `getSchemaVersion`
 *   takes a transaction-level advisory lock on the namespace. Nested transactions are
 *   savepoints. Operations issued together on one handle run one after another, in call order.
 * - A commit returns after PostgreSQL reports it durable (`synchronous_commit` of the server,
 *   `on` by default: flushed to the WAL on disk). If the connection is lost before the commit,
 *   the server rolls the transaction back: nothing of it is kept.
 * - Other operations run beside an open transaction on other connections of the pool.
 *
 * @param options - `url` (default env `CORE_DATABASE_URL`), `schema` (default `public`),
 *   `max` pool size (default 10), `connectTimeoutMs` (default 10,000 ms).
 * @returns A ready adapter named `postgres`.
 * @throws {@link @core/contracts!CoreError} `E_VALIDATION` when no URL is given or set in `CORE_DATABASE_URL`,
 *   or an option is malformed.
 * @throws {@link @core/contracts!CoreError} `E_STORAGE` when the server cannot be reached, refuses the login,
 *   or a migration fails (nothing of it applied), with the driver error as `cause`.
 * @see PostgreSQL manual: "JSON Types" (jsonb containment, `jsonb_path_ops`), "SAVEPOINT",
 *   "Advisory Locks"
 * @example
 * ```ts
 * import { createStorage } from '@core/storage'
 * import { createPostgresAdapter } from '@core/storage-postgres'
 *
 * const storage = createStorage(
 *   await createPostgresAdapter({ url: 'postgres://postgres@127.0.0.1:5432/test', schema: 'hub' }),
 * )
 * await storage.set('lights', 'kitchen', { on: true, level: 80 })
 * console.log(await storage.query('lights', { where: { level: { gte: 50 } } }))
 * await storage.close()
 * ```
 * @public
 */
export async function createPostgresAdapter(
  options: CreatePostgresAdapterOptions = {},
): Promise<StorageAdapter> {
  const resolved = resolveOptions(options)
  const sql = openPool(resolved)
  try {
    await applyMigrations(sql, resolved.schema)
  } catch (error) {
    await sql.end({ timeout: 0 }).catch(() => {})
    throw toStorageError(error, {
      operation: `open schema "${resolved.schema}"`,
      target: resolved.target,
    })
  }
  return new PostgresAdapter(sql, resolved.schema, resolved.target)
}

/** What runs statements: the pool, or a transaction (or savepoint) scope. */
type Runner = Sql | TransactionSql

class PostgresAdapter implements StorageAdapter {
  readonly name = 'postgres'
  private readonly statements: Statements
  private closed = false
  private closing: Promise<void> | undefined
  private active = 0
  private idle: (() => void) | undefined
  private readonly ops: Ops

  constructor(
    private readonly sql: Sql,
    schema: string,
    private readonly target: string,
  ) {
    this.statements = buildStatements(schema)
    this.ops = new Ops(sql, schema, this.statements, target, undefined)
  }

  get(namespace: string, key: string): Promise<string | undefined> {
    return this.run(() => this.ops.get(namespace, key))
  }
  set(namespace: string, key: string, json: string): Promise<void> {
    return this.run(() => this.ops.set(namespace, key, json))
  }
  delete(namespace: string, key: string): Promise<boolean> {
    return this.run(() => this.ops.delete(namespace, key))
  }
  has(namespace: string, key: string): Promise<boolean> {
    return this.run(() => this.ops.has(namespace, key))
  }
  count(namespace: string, prefix: string): Promise<number> {
    return this.run(() => this.ops.count(namespace, prefix))
  }
  list(namespace: string, options: AdapterListOptions): Promise<AdapterEntry[]> {
    return this.run(() => this.ops.list(namespace, options))
  }
  query(namespace: string, query: AdapterQuery): Promise<AdapterEntry[]> {
    return this.run(() => this.ops.query(namespace, query))
  }
  batch(namespace: string, ops: AdapterBatchOp[]): Promise<void> {
    return this.run(() => this.ops.batch(namespace, ops))
  }
  getSchemaVersion(namespace: string): Promise<number> {
    return this.run(() => this.ops.getSchemaVersion(namespace))
  }
  setSchemaVersion(namespace: string, version: number): Promise<void> {
    return this.run(() => this.ops.setSchemaVersion(namespace, version))
  }

  transaction<T>(fn: (tx: StorageAdapterTransaction) => Promise<T>): Promise<T> {
    return this.run(() => this.ops.transaction(fn))
  }

  close(): Promise<void> {
    if (this.closing !== undefined) return this.closing
    this.closed = true
    this.closing = (async () => {
      if (this.active > 0) await new Promise<void>((resolve) => (this.idle = resolve))
      // Every operation of ours has settled, so nothing is left to wait for; a connection lost
      // inside a transaction would otherwise hold end() until its timeout.
      await this.sql.end({ timeout: 0 })
    })()
    return this.closing
  }

  /** Counts the operation in, so that `close()` waits for it; refuses it once closed. */
  private async run<T>(operation: () => Promise<T>): Promise<T> {
    if (this.closed) {
      throw new CoreError(
        'E_STORAGE',
        `The PostgreSQL storage adapter (${this.target}) is closed: create a new one to go on`,
      )
    }
    this.active++
    try {
      return await operation()
    } finally {
      this.active--
      if (this.active === 0 && this.idle !== undefined) this.idle()
    }
  }
}

/**
 * Shared by a transaction's handle and its nested (savepoint) handles.
 *
 * postgres.js 3.4 writes to a closed socket (an uncaught TypeError from `setImmediate`, which
 * ends the process) when a query, a `ROLLBACK`, a `COMMIT` or a `ROLLBACK TO` is issued on a
 * transaction whose connection is gone. So once the connection is lost, nothing more is handed
 * to it: operations are refused here, and the functions given to `sql.begin`/`savepoint` never
 * settle (so postgres.js never sends the closing statement); the adapter's own promises settle
 * through {@link TxState.lost} instead.
 */
class TxState {
  /** Committed, rolled back, or the connection is lost (the server then rolled back). */
  ended = false
  /** Rejects with the driver error when the connection is lost. */
  readonly lost: Promise<never>
  private fail: (error: unknown) => void = () => {}

  constructor() {
    this.lost = new Promise<never>((_, reject) => {
      this.fail = reject
    })
    this.lost.catch(() => {})
  }

  /** Marks the connection lost: every later operation is refused, every waiter released. */
  markLost(error: unknown): void {
    this.ended = true
    this.fail(error)
  }

  /**
   * Awaits a postgres.js `begin`/`savepoint` promise, or the loss of the connection, whichever
   * comes first.
   */
  guard<T>(promise: Promise<T>): Promise<T> {
    return Promise.race([promise, this.lost])
  }
}

/**
 * The primitive operations over one runner: the pool (`tx` undefined) or one transaction scope
 * (where calls are chained so they run in call order, and reads lock their rows).
 */
class Ops implements StorageAdapterOps {
  /** The last operation queued on this transaction handle. */
  private tail: Promise<unknown> = Promise.resolve()

  constructor(
    private readonly sql: Runner,
    private readonly schema: string,
    private readonly s: Statements,
    private readonly target: string,
    private readonly tx: TxState | undefined,
  ) {}

  private get inTx(): boolean {
    return this.tx !== undefined
  }

  get(namespace: string, key: string): Promise<string | undefined> {
    return this.exec({ operation: 'get', namespace, key }, async () => {
      const rows = await this.rows(this.inTx ? this.s.getForUpdate : this.s.get, [namespace, key])
      return rows[0]?.json as string | undefined
    })
  }

  set(namespace: string, key: string, json: string): Promise<void> {
    return this.exec({ operation: 'set', namespace, key }, async () => {
      await this.rows(this.s.set, [namespace, key, json])
    })
  }

  delete(namespace: string, key: string): Promise<boolean> {
    return this.exec({ operation: 'delete', namespace, key }, async () => {
      const result = await this.rows(this.s.delete, [namespace, key])
      return result.count > 0
    })
  }

  has(namespace: string, key: string): Promise<boolean> {
    return this.exec({ operation: 'has', namespace, key }, async () => {
      const rows = await this.rows(this.inTx ? this.s.hasForUpdate : this.s.has, [namespace, key])
      return rows.length > 0
    })
  }

  count(namespace: string, prefix: string): Promise<number> {
    return this.exec({ operation: 'count', namespace }, async () => {
      const { text, params } = buildCount(this.s, namespace, prefix)
      const rows = await this.rows(text, params)
      return Number(rows[0]?.n ?? 0)
    })
  }

  list(namespace: string, options: AdapterListOptions): Promise<AdapterEntry[]> {
    return this.exec({ operation: 'list', namespace }, async () =>
      entries(await this.built(buildList(this.schema, namespace, options), true)),
    )
  }

  query(namespace: string, query: AdapterQuery): Promise<AdapterEntry[]> {
    return this.exec({ operation: 'query', namespace }, async () =>
      // Not prepared: PostgreSQL then plans with the operands (a generic plan cannot see how
      // selective `value @> …` is and may walk the key index instead of the GIN index), and
      // postgres.js would keep every distinct text prepared for the life of the connection.
      entries(await this.built(buildQuery(this.schema, namespace, query), false)),
    )
  }

  batch(namespace: string, ops: AdapterBatchOp[]): Promise<void> {
    return this.exec({ operation: 'batch', namespace }, async () => {
      if (ops.length === 0) return
      // The last operation on a key decides its final state, so applying only that one is the
      // same as applying all in order, and lets one statement do the whole batch.
      const last = new Map<string, string | undefined>()
      for (const op of ops) last.set(op.key, op.op === 'set' ? op.json : undefined)
      const setKeys: string[] = []
      const setJson: string[] = []
      const deleteKeys: string[] = []
      for (const [key, json] of last) {
        if (json === undefined) deleteKeys.push(key)
        else {
          setKeys.push(key)
          setJson.push(json)
        }
      }
      const statement: Built =
        deleteKeys.length === 0
          ? { text: this.s.batchSet, params: [namespace, setKeys, setJson] }
          : setKeys.length === 0
            ? { text: this.s.batchDelete, params: [namespace, deleteKeys] }
            : { text: this.s.batchBoth, params: [namespace, deleteKeys, setKeys, setJson] }
      if (!this.inTx) {
        await this.built(statement, true)
        return
      }
      // In a transaction, a failed statement must not abort the whole transaction: it runs in
      // a savepoint, rolled back to on failure (see TxState for a lost connection).
      const state = this.tx!
      await state.guard(
        (this.sql as TransactionSql).savepoint(async (sp) => {
          try {
            await sp.unsafe(statement.text, statement.params as never[], { prepare: true })
          } catch (error) {
            if (!isConnectionLoss(error)) throw error
            state.markLost(error)
            return never()
          }
        }),
      )
    })
  }

  getSchemaVersion(namespace: string): Promise<number> {
    return this.exec({ operation: 'read the schema version', namespace }, async () => {
      if (this.inTx) await this.rows(this.s.lockVersion, [namespace])
      const rows = await this.rows(this.s.getVersion, [namespace])
      return Number(rows[0]?.version ?? 0)
    })
  }

  setSchemaVersion(namespace: string, version: number): Promise<void> {
    return this.exec({ operation: 'record the schema version', namespace }, async () => {
      await this.rows(this.s.setVersion, [namespace, version])
    })
  }

  transaction<T>(fn: (tx: StorageAdapterTransaction) => Promise<T>): Promise<T> {
    const doing: Doing = { operation: 'run a transaction', target: this.target }
    return this.serial(async () => {
      this.refuseIfEnded(doing)
      return this.tx === undefined ? this.topLevel(fn, doing) : this.nested(fn, this.tx, doing)
    })
  }

  /**
   * `BEGIN` … `COMMIT`/`ROLLBACK` through postgres.js `sql.begin`; the function's own error is
   * re-thrown as is. If the connection is lost, `sql.begin` rejects at once (the server rolls
   * back) while the function may still run: its handle then refuses every call.
   */
  private async topLevel<T>(
    fn: (tx: StorageAdapterTransaction) => Promise<T>,
    doing: Doing,
  ): Promise<T> {
    const state = new TxState()
    try {
      return await this.inTransaction(fn, state, doing, (body) => (this.sql as Sql).begin(body))
    } finally {
      state.ended = true
    }
  }

  /**
   * A nested transaction: a postgres.js `savepoint`, which on failure rolls back to the
   * savepoint and lets the parent go on. The function's own error is re-thrown as is.
   */
  private nested<T>(
    fn: (tx: StorageAdapterTransaction) => Promise<T>,
    state: TxState,
    doing: Doing,
  ): Promise<T> {
    return this.inTransaction(fn, state, doing, (body) =>
      (this.sql as TransactionSql).savepoint(body),
    )
  }

  /**
   * Runs `fn` in the scope `open` starts (`begin` or `savepoint`). The function's own error is
   * re-thrown as is; a driver error becomes `E_STORAGE`. Once the handle has ended (e.g. the
   * connection was lost), the body never settles, so postgres.js sends nothing more on it.
   */
  private async inTransaction<T>(
    fn: (tx: StorageAdapterTransaction) => Promise<T>,
    state: TxState,
    doing: Doing,
    open: (body: (scope: TransactionSql) => Promise<T>) => Promise<unknown>,
  ): Promise<T> {
    let thrown: { error: unknown } | undefined
    const body = async (scope: TransactionSql): Promise<T> => {
      try {
        const result = await fn(new Ops(scope, this.schema, this.s, this.target, state))
        return state.ended ? never() : result
      } catch (error) {
        thrown = { error }
        return state.ended ? never() : Promise.reject(error)
      }
    }
    try {
      return (await state.guard(open(body))) as T
    } catch (error) {
      if (isConnectionLoss(error)) state.markLost(error)
      if (thrown !== undefined) throw thrown.error
      throw toStorageError(error, doing)
    }
  }

  /** Runs one operation, wrapping driver errors; on a transaction handle, after the previous one. */
  private exec<T>(what: Omit<Doing, 'target'>, run: () => Promise<T>): Promise<T> {
    return this.serial(async () => {
      this.refuseIfEnded(what)
      try {
        return await run()
      } catch (error) {
        if (this.tx !== undefined && isConnectionLoss(error)) this.tx.markLost(error)
        throw toStorageError(error, { ...what, target: this.target })
      }
    })
  }

  private refuseIfEnded(what: Omit<Doing, 'target'>): void {
    if (this.tx?.ended !== true) return
    const where = what.namespace === undefined ? '' : ` in namespace "${what.namespace}"`
    throw new CoreError(
      'E_STORAGE',
      `Cannot ${what.operation}${where}: the transaction already ended (committed, rolled back, or its connection to PostgreSQL at ${this.target} was lost, in which case the server rolled it back)`,
      { details: { ...what } },
    )
  }

  private serial<T>(run: () => Promise<T>): Promise<T> {
    if (!this.inTx) return run()
    const next = this.tail.then(run, run)
    this.tail = next.catch(() => {})
    return next
  }

  private rows(text: string, params: unknown[]) {
    return this.sql.unsafe(text, params as never[], { prepare: true })
  }

  private built({ text, params }: Built, prepare: boolean) {
    return this.sql.unsafe(text, params as never[], { prepare })
  }
}

function entries(rows: readonly Record<string, unknown>[]): AdapterEntry[] {
  return rows.map((row) => ({ key: row.key as string, json: row.json as string }))
}
