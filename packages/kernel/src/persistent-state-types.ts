import type { Clock, Logger } from '@core/contracts'
import type { StateBackend, StateEngine } from '@core/state-engine'
import type { Storage } from '@core/storage'

/** Options of {@link createPersistentStateBackend}. @public */
export interface CreatePersistentStateBackendOptions {
  /** Where the chosen namespaces are persisted: the source of truth for them. */
  storage: Storage
  /** The state namespaces to persist (`NAMESPACE_PATTERN`); others stay in memory only. */
  namespaces: readonly string[]
  /**
   * Time source for `restore()` (what counts as expired) and the timer that expires restored
   * entries. Use the state engine's clock. @defaultValue systemClock
   */
  clock?: Clock
  /** Where unreadable documents and failed clean-ups are reported. @defaultValue stderr, warn+ */
  logger?: Logger
}

/** Options of {@link PersistentStateBackend.restore}. @public */
export interface RestorePersistentStateOptions {
  /**
   * The engine using this backend. When given, each restored entry with a TTL is expired
   * through it at its `expiresAt` (`state.delete(ns, key, { ifRevision: 0 })`, which removes
   * only an expired entry and publishes its `expired` change). Without it, restored entries
   * still read as absent once expired, but no `expired` change is published for them.
   */
  state?: Pick<StateEngine, 'delete'>
}

/** What {@link PersistentStateBackend.restore} found. @public */
export interface PersistentStateRestoreReport {
  /** Entries restored, by namespace (every persisted namespace is listed). */
  namespaces: Record<string, number>
  /** Entries restored in all. */
  restored: number
  /** Entries dropped because they had expired (also removed from storage). */
  dropped: number
  /** Documents that could not be read as entries (logged and left in storage). */
  skipped: number
  /** The store-wide revision counter after the restore: the next change takes `revision + 1`. */
  revision: number
}

/**
 * A {@link StateBackend} that mirrors chosen namespaces into storage. See
 * {@link createPersistentStateBackend}.
 * @public
 */
export interface PersistentStateBackend extends StateBackend {
  /** The persisted namespaces (given, and added by `persist`), sorted. */
  readonly namespaces: readonly string[]
  /**
   * Loads the persisted namespaces from storage (call it once, before using them). All or
   * nothing: on failure nothing is loaded and it can be called again. A second call after
   * success returns the first report and loads nothing.
   * @throws {@link @core/contracts!CoreError} `E_STORAGE` when storage cannot be read.
   */
  restore(options?: RestorePersistentStateOptions): Promise<PersistentStateRestoreReport>
  /**
   * Persists more namespaces from now on and loads them from storage (those not loaded yet;
   * the report lists only these). What memory held for them is replaced by what storage holds.
   * All or nothing: on failure none of them is loaded, and using one rejects with
   * `E_UNAVAILABLE` until a later call succeeds. Runs after any `restore`/`persist` in progress.
   * The kernel calls it for the plugins whose manifest says `persistState: true`.
   * @param namespaces - State namespaces (`NAMESPACE_PATTERN`).
   * @throws {@link @core/contracts!CoreError} `E_VALIDATION` for a bad namespace; `E_STORAGE` when storage
   *   cannot be read.
   */
  persist(
    namespaces: readonly string[],
    options?: RestorePersistentStateOptions,
  ): Promise<PersistentStateRestoreReport>
  /** Stops the timer that expires restored entries. Idempotent; the backend stays usable. */
  close(): void
}
