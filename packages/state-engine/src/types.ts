import type { Clock, CloudEvent, Logger, StateChange, StateEntry, Undo } from '@core/contracts'
import type { EventBus, SubscribeOptions } from '@core/event-bus'

/**
 * One entry of {@link StateEngine.list}: the key (without its namespace) and its entry.
 * @public
 */
export type StateListItem<T = unknown> = StateEntry<T> & {
  /** The key inside the namespace, e.g. `kitchen.light`. */
  key: string
}

/** Options of {@link StateEngine.set}. @public */
export interface SetStateOptions {
  /**
   * Time to live in milliseconds, a positive integer: the key expires `ttlMs` after this
   * write (and an `expired` change is published). Without it the key does not expire, and a
   * TTL the key had before is dropped (as Redis `SET` and etcd `put` without a lease do).
   */
  ttlMs?: number
  /**
   * Optimistic concurrency: write only if the key's current revision is this one (`0` = only
   * if the key does not exist). Otherwise nothing is written and `E_CONFLICT` is thrown.
   */
  ifRevision?: number
}

/** Options of {@link StateEngine.delete}. @public */
export interface DeleteStateOptions {
  /**
   * Delete only if the key's current revision is this one. `0` matches a missing key (the
   * call then returns `false`); any other mismatch throws `E_CONFLICT`.
   */
  ifRevision?: number
}

/** Options of {@link StateEngine.list}. @public */
export interface ListStateOptions {
  /**
   * Only keys equal to this key or below it, word by word: `lights` matches `lights` and
   * `lights.kitchen`, not `lightswitch`. A valid key itself (dot-separated words).
   */
  prefix?: string
}

/** Options of {@link StateEngine.watch}: those of the bus subscription underneath. @public */
export type WatchStateOptions = SubscribeOptions

/**
 * Receives one change of a watched key: the `StateChange` (`event.data`) and the whole
 * CloudEvents envelope. May return a promise; the next change for this watch is delivered
 * after it settles (the bus's per-subscription FIFO).
 * @public
 */
export type StateWatchHandler<T = unknown> = (
  change: StateChange<T>,
  event: CloudEvent<StateChange<T>>,
) => void | Promise<void>

/**
 * Namespaced, revisioned state with TTLs, whose every change is published on the event bus.
 * Made by {@link createStateEngine}, whose documentation states the guarantees (order,
 * revisions, TTL, frozen values). Every method rejects (or, for `watch`, throws) with
 * `E_UNAVAILABLE` after {@link StateEngine.close}.
 * @public
 */
export interface StateEngine {
  /**
   * Writes `value` under `key` in `namespace`, giving the key a new revision, and publishes
   * `state.<namespace>.<key>` with reason `set`. Resolves once the write is committed and its
   * event is queued on the bus, never waiting for watchers.
   *
   * @param namespace - A namespace (`NAMESPACE_PATTERN`: lower-case letter, then up to 63
   *   lower-case letters, digits or `-`).
   * @param key - Dot-separated words of letters, digits, `_`, `-`, `%`; `state.<namespace>.<key>`
   *   must fit in 255 bytes and 32 words.
   * @param value - Any JSON value; the engine stores its own deep-frozen copy.
   * @param options - `ttlMs` (expire after this many ms; without it the key does not expire,
   *   and an earlier TTL is dropped) and `ifRevision` (write only at this revision; `0` = only
   *   if absent).
   * @returns The new entry `{ value, revision, updatedAt, expiresAt? }`, deep-frozen.
   * @throws {@link @core/contracts!CoreError} `E_VALIDATION` for a bad namespace, key, `ttlMs` or
   *   `ifRevision`, or a value that is not JSON (`details.path` is the JSON Pointer of the bad place).
   * @throws {@link @core/contracts!CoreError} `E_CONFLICT` when `ifRevision` does not match; `details` holds
   *   `namespace`, `key`, `expected` and `actual` (0 = absent).
   * @throws {@link @core/contracts!CoreError} `E_STORAGE` when the backend fails (its error is the `cause`).
   * @throws {@link @core/contracts!CoreError} `E_UNAVAILABLE` after `close()`.
   * @example
   * ```ts
   * const entry = await state.set('lights', 'kitchen.main', { on: true }, { ttlMs: 60_000 })
   * await state.set('lights', 'kitchen.main', { on: false }, { ifRevision: entry.revision })
   * ```
   */
  set<T = unknown>(
    namespace: string,
    key: string,
    value: T,
    options?: SetStateOptions,
  ): Promise<StateEntry<T>>
  /**
   * Reads a key. An entry past its `expiresAt` is never returned, even if its expiry has not
   * been processed yet.
   * @returns The deep-frozen entry, or `undefined` when the key is absent or expired.
   * @throws {@link @core/contracts!CoreError} `E_VALIDATION` for a bad namespace or key.
   * @throws {@link @core/contracts!CoreError} `E_STORAGE` when the backend fails.
   * @throws {@link @core/contracts!CoreError} `E_UNAVAILABLE` after `close()`.
   * @example
   * ```ts
   * const on = (await state.get<{ on: boolean }>('lights', 'kitchen.main'))?.value.on ?? false
   * ```
   */
  get<T = unknown>(namespace: string, key: string): Promise<StateEntry<T> | undefined>
  /**
   * Deletes a key and publishes reason `delete` with a new revision and the `previous` value.
   * @param options - `ifRevision`: delete only at this revision (`0` matches an absent key).
   * @returns `true` when a live key was deleted, `false` when it was absent or expired (nothing
   *   is published for an absent key).
   * @throws {@link @core/contracts!CoreError} `E_VALIDATION` for a bad namespace, key or `ifRevision`.
   * @throws {@link @core/contracts!CoreError} `E_CONFLICT` when `ifRevision` does not match.
   * @throws {@link @core/contracts!CoreError} `E_STORAGE` when the backend fails.
   * @throws {@link @core/contracts!CoreError} `E_UNAVAILABLE` after `close()`.
   * @example
   * ```ts
   * await state.delete('lights', 'kitchen.main')
   * ```
   */
  delete(namespace: string, key: string, options?: DeleteStateOptions): Promise<boolean>
  /**
   * `true` when the key exists and has not expired.
   * @throws {@link @core/contracts!CoreError} `E_VALIDATION`, `E_STORAGE`, `E_UNAVAILABLE` as {@link StateEngine.get}.
   * @example
   * ```ts
   * if (await state.has('presence', 'hall')) console.log('someone is home')
   * ```
   */
  has(namespace: string, key: string): Promise<boolean>
  /**
   * The live entries of a namespace with their keys, sorted by key (UTF-16 code unit order).
   * @param options - `prefix`: only that key and the keys below it, word by word (`lights`
   *   matches `lights.kitchen`, not `lightswitch`).
   * @returns Deep-frozen `{ key, value, revision, updatedAt, expiresAt? }` items.
   * @throws {@link @core/contracts!CoreError} `E_VALIDATION` for a bad namespace or prefix.
   * @throws {@link @core/contracts!CoreError} `E_STORAGE` when the backend fails.
   * @throws {@link @core/contracts!CoreError} `E_UNAVAILABLE` after `close()`.
   * @example
   * ```ts
   * for (const { key, value } of await state.list('lights', { prefix: 'kitchen' })) console.log(key, value)
   * ```
   */
  list<T = unknown>(namespace: string, options?: ListStateOptions): Promise<StateListItem<T>[]>
  /**
   * Calls `handler(change, event)` for every change (set, delete, expiry) of the keys of
   * `namespace` that match `keyPattern`: a bus subscription on
   * `state.<namespace>.<keyPattern>`, so the bus's guarantees hold (async delivery,
   * per-watch FIFO, bounded queue, a throwing handler isolated and reported).
   * @param keyPattern - AMQP 0-9-1 pattern over the key's words: `*` one word, `#` zero or more.
   * @param options - The bus's subscribe options (`maxQueue`, `overflow`, `signal`, `name`).
   * @returns The undo: call it (or `using` it) to stop watching. `close()` also ends it.
   * @throws {@link @core/contracts!CoreError} `E_VALIDATION` for a bad namespace, pattern, handler or option.
   * @throws {@link @core/contracts!CoreError} `E_UNAVAILABLE` after `close()`.
   * @see AMQP 0-9-1 topic exchange matching; CloudEvents 1.0
   * @example
   * ```ts
   * const stop = state.watch('lights', '*.main', (change) => console.log(change.key, change.reason))
   * stop()
   * ```
   */
  watch<T = unknown>(
    namespace: string,
    keyPattern: string,
    handler: StateWatchHandler<T>,
    options?: WatchStateOptions,
  ): Undo
  /**
   * Stops the TTL scheduler (pending expiries are not processed by this engine any more),
   * ends the watches made through this engine, and waits for writes in flight. A backend
   * passed in `backend` is left open: its owner closes it. Calling it again does nothing.
   * @example
   * ```ts
   * await state.close()
   * ```
   */
  close(): Promise<void>
  /** A copy of the engine's change counters, for metrics. */
  stats(): StateEngineStats
}

/**
 * Counters of a state engine (`state.stats()`): per namespace, the changes committed through
 * it by reason (`set`, `delete`, `expired`). At most 1,000 namespaces; further ones count
 * under `_other`.
 * @public
 */
export interface StateEngineStats {
  changes: Record<string, { set: number; delete: number; expired: number }>
}

/** Options of {@link createStateEngine}. @public */
export interface CreateStateEngineOptions {
  /** The bus the change events are published on and watches subscribe to. */
  bus: EventBus
  /** Where entries live. @defaultValue a new {@link createMemoryStateBackend} */
  backend?: StateBackend
  /** Time source for `updatedAt`, `expiresAt` and the TTL timer. @defaultValue systemClock */
  clock?: Clock
  /** Where failures to publish a change are logged. @defaultValue a stderr logger (warn+) */
  logger?: Logger
  /** CloudEvents `source` of the change events. @defaultValue '/core/state' */
  source?: string
}

/** Options of {@link StateBackend.set}. @public */
export interface BackendSetOptions {
  /** The engine's clock reading for this write, epoch ms: becomes `updatedAt`. */
  now: number
  /** Absolute expiry, epoch ms; absent = no TTL. */
  expiresAt?: number
  /** Write only if the key's live revision equals this (`0` = absent). */
  ifRevision?: number
}

/** Options of {@link StateBackend.delete}. @public */
export interface BackendDeleteOptions {
  /** The engine's clock reading, epoch ms: entries with `expiresAt <= now` count as absent. */
  now: number
  /** Delete only if the key's live revision equals this (`0` = absent). */
  ifRevision?: number
}

/**
 * What a {@link StateBackend} write reports, so that the engine can publish the changes.
 * @public
 */
export interface BackendWriteResult<T = unknown> {
  /** `false` when `ifRevision` did not match: then nothing was written and `changes` is empty. */
  ok: boolean
  /** The key's live revision before this call (`0` = absent or expired). */
  actual: number
  /** After a successful `set`: the stored entry. */
  entry?: StateEntry<T>
  /**
   * Every change this call made, in revision order: first, if the call found the key's entry
   * expired but not yet removed, an `expired` change that removed it; then the call's own
   * change (none for a `delete` of an absent key or an `expire` that no longer applies). A
   * change may leave out `updatedAt` and `expiresAt`: the engine fills them in from the call's
   * `now` and the stored `entry`.
   */
  changes: StateChange<T>[]
  /**
   * `true` when the backend has already reported `changes` through its
   * {@link StateBackend.subscribe} listener (rule 8): the engine does not publish them again.
   */
  reported?: boolean
}

/**
 * Where a {@link StateEngine} keeps its entries. The in-memory default is
 * {@link createMemoryStateBackend}; a Redis backend can implement the same calls atomically
 * (one Lua script per write).
 *
 * The contract every backend meets:
 * 1. **Atomic writes.** `set`, `delete` and `expire` each read, compare and write in one
 *    atomic step (as one Redis script, one SQL transaction): no other write to the same key
 *    can land between the revision check and the write.
 * 2. **Revisions.** One counter for the whole store, owned by the backend: every change
 *    (set, delete, expiry) takes the next value, so a key's revisions only grow and are never
 *    reused, even when the key is deleted and created again (etcd's `mod_revision`). The first
 *    revision is 1; `0` means "absent".
 * 3. **Compare-and-set.** With `ifRevision`, the write happens only if the key's live revision
 *    (`0` when absent or expired at `now`) equals it; otherwise `{ ok: false, actual }` and
 *    nothing changes.
 * 4. **Expiry is the engine's.** A backend keeps an entry past its `expiresAt` until `expire`
 *    (or a later write to the key) removes it, and reports that removal as an `expired` change,
 *    so every expiry gets its event. Reads (`get`, `list`) may return such entries; the engine
 *    hides them. A write that meets one removes it first (an `expired` change with its own
 *    revision), then applies itself.
 * 5. **Values.** Values are JSON; the backend may keep the frozen value it is given as is
 *    (memory) or serialise it (Redis). Entries it returns are treated as read-only.
 * 6. **Order.** The engine serialises writes per key, so a backend need not order concurrent
 *    calls for one key; calls for different keys may run concurrently.
 * 7. **Sync or async.** Each method may answer directly (the memory backend does: the engine
 *    then commits and publishes inside the calling `set`, with no promise hop) or with a
 *    promise (a network backend). A method that throws or rejects fails that one call.
 * 8. **Shared stores.** A backend shared by several engines (several hubs on one Redis)
 *    implements {@link StateBackend.subscribe}: the engine publishes every change the listener
 *    receives on its own bus, at once and in the order received, so changes made through other
 *    engines, and expiries the backend carries out by itself, reach this engine's watchers too.
 *    To keep one order for all of them, such a backend may report this engine's own changes
 *    through the listener as well, in revision order with the others, and mark the write's
 *    result `reported: true`; the engine then does not publish that result's changes again.
 *
 * @public
 */
export interface StateBackend {
  /** The stored entry of a key, or `undefined`; may be expired (see rule 4). */
  get(namespace: string, key: string): StateEntry | undefined | Promise<StateEntry | undefined>
  /**
   * The stored entries of a namespace (all, or those whose key is `prefix` or starts with
   * `prefix.`), in any order; may include expired ones.
   */
  list(namespace: string, prefix?: string): StateListItem[] | Promise<StateListItem[]>
  /** Compare-and-set a value (rules 1-4). The change's `previous` is the live value replaced. */
  set(
    namespace: string,
    key: string,
    value: unknown,
    options: BackendSetOptions,
  ): BackendWriteResult | Promise<BackendWriteResult>
  /** Compare-and-delete (rules 1-4): removes a live entry; `changes` is empty when it was absent. */
  delete(
    namespace: string,
    key: string,
    options: BackendDeleteOptions,
  ): BackendWriteResult | Promise<BackendWriteResult>
  /**
   * Removes the entry if it is still at `revision` and `expiresAt <= now`, reporting an
   * `expired` change; otherwise changes nothing and reports no change.
   */
  expire(
    namespace: string,
    key: string,
    revision: number,
    now: number,
  ): BackendWriteResult | Promise<BackendWriteResult>
  /**
   * Optional (rule 8): starts reporting changes of the shared store to `listener` (those made
   * through other engines and by the backend itself, and those of this engine's writes it marks
   * `reported`), each once, in revision order per key. The engine calls it once, when it is
   * created, and calls the returned undo on `close()`.
   * @returns Stops the reports.
   */
  subscribe?(listener: StateBackendListener): () => void
}

/**
 * Receives one change a shared {@link StateBackend} reports (rule 8): the engine publishes it.
 * @public
 */
export type StateBackendListener = (change: StateChange) => void
