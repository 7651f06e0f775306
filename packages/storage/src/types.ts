import type { JsonValue } from '@core/contracts'
import type { QueryOptions } from './validate.js'

/** One document with its key. @public */
export interface StorageEntry<T extends JsonValue = JsonValue> {
  key: string
  value: T
}

/** One page of {@link Storage.list}. @public */
export interface ListPage<T extends JsonValue = JsonValue> {
  /** Entries in key order (Unicode code point order). */
  items: StorageEntry<T>[]
  /** Pass to the next `list` call; absent when this is the last page. */
  cursor?: string
}

/** Options of {@link Storage.list}. @public */
export interface ListOptions {
  /** Only keys starting with this string. @defaultValue '' (all keys) */
  prefix?: string
  /** Page size, 1-1,000. @defaultValue 100 */
  limit?: number
  /** The `cursor` of the previous page; absent for the first page. */
  cursor?: string
}

/**
 * Options of {@link StorageOps.iterate}. @public
 */
export interface IterateOptions {
  /** Only keys starting with this string. @defaultValue '' (all keys) */
  prefix?: string
  /** Documents read per page under the hood, 1-1,000. @defaultValue 100 */
  pageSize?: number
}

/** Options of {@link Storage.count}. @public */
export interface CountOptions {
  /** Only keys starting with this string. @defaultValue '' (all keys) */
  prefix?: string
}

/** One operation of {@link Storage.batch}. @public */
export type BatchOp = { op: 'set'; key: string; value: unknown } | { op: 'delete'; key: string }

/** Options of {@link createStorage}. @public */
export interface CreateStorageOptions {
  /** Largest value, in bytes of its UTF-8 JSON text. @defaultValue 1048576 (1 MiB) */
  maxValueBytes?: number
}

/** A plugin's migration steps: `{ [toVersion]: async (tx) => … }`. @public */
export type MigrationStep = (tx: NamespacedStorage) => Promise<void>

/**
 * The storage API bound to one namespace: what the kernel hands a plugin as `ctx.storage`.
 * Same behaviour as {@link Storage}, without the namespace argument.
 * @public
 */
export interface NamespacedStorage {
  /** The namespace every call is bound to. */
  readonly namespace: string
  get<T extends JsonValue = JsonValue>(key: string): Promise<T | undefined>
  set(key: string, value: unknown): Promise<void>
  delete(key: string): Promise<boolean>
  has(key: string): Promise<boolean>
  count(options?: CountOptions): Promise<number>
  list<T extends JsonValue = JsonValue>(options?: ListOptions): Promise<ListPage<T>>
  iterate<T extends JsonValue = JsonValue>(options?: IterateOptions): AsyncIterable<StorageEntry<T>>
  query<T extends JsonValue = JsonValue>(options?: QueryOptions): Promise<StorageEntry<T>[]>
  batch(ops: BatchOp[]): Promise<void>
  transaction<T>(fn: (tx: NamespacedStorage) => Promise<T>): Promise<T>
}

/**
 * Operations shared by the storage and its transaction handles. Every namespace must match
 * `NAMESPACE_PATTERN` of `@core/contracts`; every key follows {@link assertStorageKey}.
 * @public
 */
export interface StorageOps {
  /** The document, or `undefined` when absent. A fresh copy: changing it changes nothing stored. */
  get<T extends JsonValue = JsonValue>(namespace: string, key: string): Promise<T | undefined>
  /** Inserts or replaces the document (a deep copy of `value` is stored). */
  set(namespace: string, key: string, value: unknown): Promise<void>
  /** Removes the document; `true` if it existed. */
  delete(namespace: string, key: string): Promise<boolean>
  /** Whether the key is present. */
  has(namespace: string, key: string): Promise<boolean>
  /** Number of documents, optionally only keys starting with `prefix`. */
  count(namespace: string, options?: CountOptions): Promise<number>
  /** A page of documents in key order; see {@link ListPage}. */
  list<T extends JsonValue = JsonValue>(
    namespace: string,
    options?: ListOptions,
  ): Promise<ListPage<T>>
  /**
   * Every document (or every one whose key starts with `prefix`) in key order, read page by
   * page with {@link StorageOps.list} as the loop consumes it, so the paging guarantees of
   * `list` hold: a key present throughout is yielded exactly once, a key inserted behind the
   * last one read shows up later. Breaking out of the loop stops the reading.
   * @throws {@link @core/contracts!CoreError} `E_VALIDATION` (bad namespace, prefix or `pageSize`) and
   *   `E_STORAGE` (driver failure; storage closed), from the first `next()` that meets them.
   * @example
   * ```ts
   * for await (const { key, value } of storage.iterate('lights', { prefix: 'room.' })) console.log(key, value)
   * ```
   */
  iterate<T extends JsonValue = JsonValue>(
    namespace: string,
    options?: IterateOptions,
  ): AsyncIterable<StorageEntry<T>>
  /** Documents matching `where`, sorted by `orderBy` (default key), at most `limit`. */
  query<T extends JsonValue = JsonValue>(
    namespace: string,
    options?: QueryOptions,
  ): Promise<StorageEntry<T>[]>
  /** Applies sets and deletes in order, all or nothing. */
  batch(namespace: string, ops: BatchOp[]): Promise<void>
  /** Runs `fn` in a (nested, when called on a transaction) transaction. */
  transaction<T>(fn: (tx: StorageTransaction) => Promise<T>): Promise<T>
  /** The same API bound to one namespace. */
  forNamespace(namespace: string): NamespacedStorage
  /** The recorded schema version of a namespace's data; 0 when none. */
  schemaVersion(namespace: string): Promise<number>
  /** Records the schema version of a namespace's data (an integer >= 0). */
  setSchemaVersion(namespace: string, version: number): Promise<void>
}

/**
 * A transaction handle, valid until its function settles. @public
 */
export type StorageTransaction = StorageOps

/**
 * Persistent namespaced JSON documents. See {@link createStorage}.
 * @public
 */
export interface Storage extends StorageOps {
  /** The adapter's name: `memory`, `sqlite`, `postgres`. */
  readonly adapterName: string
  /** The configured value size limit, in bytes. */
  readonly maxValueBytes: number
  /** Lets started work finish, then closes the adapter. Idempotent. */
  close(): Promise<void>
}
