/**
 * The storage adapter contract: the few primitive operations a storage engine implements so
 * that `createStorage(adapter)` can offer the full storage API on top of it.
 *
 * Change log of this contract (kept backwards-compatible; newest first):
 * - 0.1.0 (addition): `prefixEnd(prefix)`, a helper for range scans by key prefix.
 * - 0.1.0: first version.
 *
 * ## Who checks what
 *
 * `createStorage()` (the validation layer) checks every input before it reaches the adapter,
 * so an adapter may rely on the following and need not check them again:
 *
 * - `namespace` matches `NAMESPACE_PATTERN` of `@core/contracts` (`/^[a-z][a-z0-9-]{0,63}$/`).
 * - `key` is a valid storage key (see `assertStorageKey`): 1-128 Unicode code points, no control,
 *   format, whitespace or unpaired-surrogate characters, no `/` or `\`, dot-separated segments
 *   that are never empty (so never `.`, `..`, a leading, trailing or doubled dot).
 *   A `prefix` or `after` is a string of at most 128 code points of the same characters (a
 *   `prefix` may end with `.`); `''` as prefix means "every key".
 * - `json` is the output of `JSON.stringify` on a JSON value: valid JSON text, at most the
 *   configured size in UTF-8 bytes, holding no U+0000 and no unpaired surrogate (escaped or not).
 *   It is therefore storable as PostgreSQL `jsonb` and as SQLite `TEXT`.
 * - Query paths, operators and operand types are as described on {@link QueryCondition}; an
 *   `in` list is never empty and holds at most 1,000 values; `limit` is an integer >= 1
 *   (at most 1,001: the layer asks for one more than the page it returns).
 * - A transaction handle is never used after its function settled, never used while a nested
 *   transaction opened from it is still running, and at most one nested transaction of a handle
 *   runs at a time. Several operations on one handle may be in flight at once (e.g.
 *   `Promise.all([tx.set(…), tx.get(…)])`); the adapter runs them in call order.
 *
 * ## Values at the boundary
 *
 * Values cross the boundary as JSON text (`string`), never parsed: the layer serialises and
 * measures on the way in and parses on the way out. An adapter returns text that parses to a
 * value deep-equal to the one stored; it need not be the same text (PostgreSQL `jsonb`
 * normalises whitespace and the order of object members, so object member order is not
 * preserved by the contract).
 *
 * ## Ordering
 *
 * Keys order by Unicode code point, which is the byte order of their UTF-8 encoding (SQLite's
 * `BINARY` collation, PostgreSQL `COLLATE "C"`). Note that JavaScript's `<` on strings compares
 * UTF-16 code units, which differs above U+FFFF; use {@link compareKeys}.
 *
 * ## Errors
 *
 * - Driver and engine failures reject with `CoreError` `E_STORAGE`, the driver error as `cause`
 *   and a message naming the operation, namespace and key. (The layer wraps anything else an
 *   adapter throws in the same way, as a safety net.)
 * - A transaction the engine aborts to break a deadlock or a serialisation conflict rejects
 *   with `E_CONFLICT` (nothing of it applied; the caller may retry).
 * - Any operation after `close()` rejects with `E_STORAGE`.
 * - The error thrown by a transaction function is re-thrown unchanged (same object) after the
 *   rollback; the adapter's own failures to begin, commit or roll back are `E_STORAGE`.
 *
 * @see RFC 8259 (JSON text); SQLite "Savepoints" and PostgreSQL SAVEPOINT for nesting.
 * @packageDocumentation
 */

/**
 * A JSON scalar: the operand type of query conditions.
 * @public
 */
export type JsonScalar = string | number | boolean | null

/**
 * One stored document as it crosses the adapter boundary: its key and its JSON text.
 * @public
 */
export interface AdapterEntry {
  /** The document's key within its namespace. */
  key: string
  /** The document as JSON text (RFC 8259). */
  json: string
}

/**
 * One operation of {@link StorageAdapterOps.batch}.
 * @public
 */
export type AdapterBatchOp =
  | { op: 'set'; key: string; json: string }
  | { op: 'delete'; key: string }

/**
 * Options of {@link StorageAdapterOps.list} (which returns keys in code point order).
 * @public
 */
export interface AdapterListOptions {
  /** Only keys that start with this string (plain string prefix, no wildcards); `''` = all. */
  prefix: string
  /**
   * Only keys strictly greater than this one (code point order); absent = from the first.
   * It need not be an existing key: it is the last key of the previous page, which may have
   * been deleted since.
   */
  after?: string
  /** Most entries to return, >= 1. */
  limit: number
}

/**
 * One condition of a query; a query's conditions all hold at once (AND).
 *
 * `path` addresses a member of the document through nested objects: `['room', 'floor']` is
 * `doc.room.floor`. Every segment matches `/^[A-Za-z_][A-Za-z0-9_-]{0,63}$/` (never numeric, so
 * that PostgreSQL `#>` cannot read it as an array index) and there are 1-16 segments. A path
 * that does not lead to a value - a member is absent, or an intermediate value is not an
 * object (arrays included: segments never index arrays) - is *missing*.
 *
 * Matching, for a document whose value at `path` is `v`:
 * - A missing path matches nothing, for every operator (`eq: null` included).
 * - `eq`: `v` has the same JSON type as `value` and is equal to it (`null` matches only an
 *   explicit JSON `null`; `true` never matches `1`). Numbers compare numerically.
 * - `gt`/`gte`/`lt`/`lte`: `value` is a number or a string; `v` must have the same JSON type
 *   (a number is never compared with a string, objects and arrays never match). Numbers
 *   compare numerically, strings by Unicode code point (SQLite `BINARY`, PostgreSQL
 *   `COLLATE "C"`), never by locale.
 * - `in`: `v` equals (as for `eq`) at least one of `values` (1-1,000 scalars, types may mix).
 *
 * @public
 */
export type QueryCondition =
  | { path: string[]; op: 'eq'; value: JsonScalar }
  | { path: string[]; op: 'gt' | 'gte' | 'lt' | 'lte'; value: number | string }
  | { path: string[]; op: 'in'; values: JsonScalar[] }

/**
 * The sort of a query. Documents order by the JSON type of the value at `path`, in this rank:
 * missing < `null` < `false` < `true` < number < string < array or object; within a rank
 * numbers compare numerically, strings by code point, and arrays/objects are equal. `desc`
 * reverses that order. Ties (equal values, arrays, objects, missing) always break by key
 * ascending, whatever the direction.
 * @public
 */
export interface QueryOrder {
  /** Same syntax as the `path` of a `where` condition. */
  path: string[]
  /** @defaultValue 'asc' */
  direction: 'asc' | 'desc'
}

/**
 * A normalised query as the adapter receives it.
 * @public
 */
export interface AdapterQuery {
  /** All must hold; an empty list matches every document of the namespace. */
  where: QueryCondition[]
  /** Absent: by key ascending. */
  orderBy?: QueryOrder
  /** Most entries to return, >= 1. */
  limit: number
}

/**
 * The primitive operations, available on an adapter and on a transaction handle alike.
 * Every method returns a Promise (also for synchronous engines) and never mutates its arguments.
 * @public
 */
export interface StorageAdapterOps {
  /** The document's JSON text, or `undefined` when the key is absent. */
  get(namespace: string, key: string): Promise<string | undefined>
  /** Inserts or replaces (upsert) the document. */
  set(namespace: string, key: string, json: string): Promise<void>
  /** Removes the document; resolves `true` if it existed, `false` if there was nothing to delete. */
  delete(namespace: string, key: string): Promise<boolean>
  /** Whether the key is present. */
  has(namespace: string, key: string): Promise<boolean>
  /** How many keys of the namespace start with `prefix` (`''` = all). */
  count(namespace: string, prefix: string): Promise<number>
  /**
   * Up to `limit` entries, keys ascending in code point order, starting after `after`.
   * Keyset pagination: the layer's opaque cursor is the last key returned, so keys inserted or
   * deleted between pages neither repeat nor shift the keys that existed all along.
   */
  list(namespace: string, options: AdapterListOptions): Promise<AdapterEntry[]>
  /** Documents matching every condition, sorted as {@link QueryOrder} says, at most `limit`. */
  query(namespace: string, query: AdapterQuery): Promise<AdapterEntry[]>
  /**
   * Applies the operations in order, all or nothing: if any fails, none is applied and the
   * promise rejects (`E_STORAGE`). Inside a transaction a failed batch leaves the transaction as
   * it was before the batch (use a savepoint). A `set` then `delete` of one key deletes it.
   */
  batch(namespace: string, ops: AdapterBatchOp[]): Promise<void>
  /**
   * Runs `fn` in a transaction and commits when its promise fulfils; on rejection rolls back
   * and re-throws the same error. Resolves with `fn`'s result after the commit is durable to
   * the adapter's configured level.
   *
   * On the adapter, this opens a top-level transaction. On a transaction handle it opens a
   * nested one (a savepoint): on success its writes become part of the parent (committed only
   * when the outermost commits); on failure only its own writes are undone and the parent stays
   * usable.
   *
   * Isolation: writes of an open transaction are seen by its own handle (and its nested ones)
   * and by nothing else before commit. Operations outside it wait or run beside it (a
   * single-connection engine may queue them until the transaction ends; a pooled engine uses
   * other connections), and are never undone by its rollback. A key read with `get`/`has`
   * through a transaction handle is protected against writes from other transactions until
   * this one ends (serialised transactions, or `SELECT … FOR UPDATE`), so a read-modify-write of
   * an existing key never loses an update. Creating an absent key from two transactions at once
   * is last-writer-wins.
   */
  transaction<T>(fn: (tx: StorageAdapterTransaction) => Promise<T>): Promise<T>
  /**
   * The schema version of a namespace's data, as last recorded by {@link setSchemaVersion};
   * `0` when none was ever recorded. Kept apart from the namespace's documents (not listed,
   * counted or queried). Through a transaction handle it also locks the namespace's record
   * (even when absent, e.g. with an advisory lock) until the transaction ends, so two processes
   * migrating one namespace run one after the other.
   */
  getSchemaVersion(namespace: string): Promise<number>
  /** Records the schema version (an integer >= 0) of a namespace's data. */
  setSchemaVersion(namespace: string, version: number): Promise<void>
}

/**
 * A transaction handle: the same primitive operations, bound to one open transaction;
 * `transaction()` on it opens a nested transaction (savepoint).
 * @public
 */
export type StorageAdapterTransaction = StorageAdapterOps

/**
 * A storage engine behind `createStorage()`. Implementations: `createMemoryAdapter()` (this
 * package), `createSqliteAdapter()` (`@core/storage-sqlite`), `createPostgresAdapter()`
 * (`@core/storage-postgres`). Check a new one with `runStorageConformance` from
 * `@core/storage/conformance`.
 *
 * An adapter that needs setup (connect, create its tables, apply its own migrations) does it
 * before its factory's promise resolves, so a resolved adapter is ready to use.
 *
 * @example
 * ```ts
 * const adapter: StorageAdapter = createMemoryAdapter()
 * await adapter.set('lights', 'kitchen', '{"on":true}')
 * await adapter.get('lights', 'kitchen') // '{"on":true}'
 * ```
 * @public
 */
export interface StorageAdapter extends StorageAdapterOps {
  /** A short name for messages and metrics: `memory`, `sqlite`, `postgres`. */
  readonly name: string
  /**
   * Optional, for metrics: how many attempts the adapter repeated so far because the database
   * was busy (SQLite's `SQLITE_BUSY`).
   */
  busyRetries?(): number
  /**
   * Lets operations and transactions already started finish, then releases connections and
   * files. Idempotent. Afterwards every operation rejects with `E_STORAGE`.
   */
  close(): Promise<void>
}

/**
 * Compares two keys (or any strings) by Unicode code point, the order every adapter lists keys
 * in: negative when `a` sorts first, `0` when equal, positive otherwise.
 *
 * @param a - First string.
 * @param b - Second string.
 * @returns A number whose sign gives the order, as `Array.prototype.sort` expects.
 * @example
 * ```ts
 * ['b', '\u{1F600}', '\uFFFD'].sort(compareKeys) // ['b', '\uFFFD', '\u{1F600}']
 * ```
 * @public
 */
export function compareKeys(a: string, b: string): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i)
    const y = b.charCodeAt(i)
    if (x === y) continue
    // A surrogate (0xD800-0xDFFF) stands for a code point above 0xFFFF, so it sorts after
    // every BMP unit from 0xE000 up, unlike in plain UTF-16 unit order.
    const sx = x >= 0xd800 && x <= 0xdfff
    const sy = y >= 0xd800 && y <= 0xdfff
    if (sx !== sy) return sx ? 1 : -1
    return x - y
  }
  return a.length - b.length
}

/**
 * The smallest string that sorts (by code point, see {@link compareKeys}) after every string
 * starting with `prefix`, or `undefined` when there is none (empty prefix, or only U+10FFFF).
 * With it a prefix becomes an index-friendly key range: `key >= prefix AND key < end`, with no
 * LIKE/GLOB wildcards to escape. Compare with a binary collation (SQLite `BINARY`, PostgreSQL
 * `COLLATE "C"`).
 *
 * @param prefix - The key prefix.
 * @returns The exclusive upper bound of the range, or `undefined` for "no upper bound".
 * @example
 * ```ts
 * prefixEnd('room.') // 'room/'
 * prefixEnd('a\u{10FFFF}') // 'b'
 * ```
 * @public
 */
export function prefixEnd(prefix: string): string | undefined {
  const points = Array.from(prefix, (c) => c.codePointAt(0)!)
  while (points.length > 0) {
    const last = points.pop()!
    if (last < 0x10ffff) {
      points.push(last === 0xd7ff ? 0xe000 : last + 1)
      return String.fromCodePoint(...points)
    }
  }
  return undefined
}
