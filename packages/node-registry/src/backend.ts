import type { NodePassport } from '@core/contracts'

/**
 * What a backend stores per node: the passport as given, and when it was first registered
 * (epoch ms).
 * @public
 */
export interface NodeRecord {
  readonly passport: NodePassport
  /** Epoch ms of the first registration of this uid. */
  readonly registeredAt: number
}

/**
 * A change a backend reports to its watchers, whoever caused it (this process or another):
 *
 * - `put`: a passport was created or replaced;
 * - `heartbeat`: the node's liveness was renewed (the registry stamps `lastSeen` with its own
 *   clock on receipt, so clocks of other machines never matter);
 * - `expired`: the node's liveness ran out (its TTL passed without a heartbeat) or was released;
 * - `deleted`: the passport is gone.
 *
 * @public
 */
export type NodeBackendChange =
  | { readonly type: 'put'; readonly uid: string; readonly record: NodeRecord }
  | { readonly type: 'heartbeat'; readonly uid: string }
  | { readonly type: 'expired'; readonly uid: string }
  | { readonly type: 'deleted'; readonly uid: string }

/**
 * One node as {@link NodeRegistryBackend.load} finds it: its record and whether its liveness
 * is current.
 * @public
 */
export interface NodeSnapshotEntry extends NodeRecord {
  readonly live: boolean
}

/**
 * Where a node registry keeps passports and liveness: the contract both the memory backend
 * and `@core/node-registry-etcd` fulfil, checked by `runNodeRegistryConformance`.
 *
 * Several backend instances may share one store (several processes on one etcd prefix, or
 * several memory backends on one {@link MemoryNodeStore}); every change made through any of
 * them reaches the watchers of all, in the order the store applied it.
 *
 * @public
 */
export interface NodeRegistryBackend {
  /** Short name for logs and health, e.g. `memory`, `etcd`. */
  readonly name: string
  /**
   * Creates or replaces a passport (no liveness change).
   * @throws {@link @core/contracts!CoreError} `E_UNAVAILABLE` when the store cannot be reached.
   */
  put(record: NodeRecord): Promise<void>
  /**
   * Renews the node's liveness for `ttlMs`; re-creates it (and the passport, if it was removed
   * meanwhile) when it had expired, so a node paused past its TTL comes back on its own.
   * @throws {@link @core/contracts!CoreError} `E_UNAVAILABLE` when the store cannot be reached.
   */
  heartbeat(record: NodeRecord, ttlMs: number): Promise<void>
  /**
   * Removes a node. With `onlyIfExpired`, removes it only when its liveness is gone and its
   * passport is the one last seen (compare-and-delete: of several instances trying at once,
   * exactly one removes it). Resolves `true` when this call removed it.
   * @throws {@link @core/contracts!CoreError} `E_UNAVAILABLE` when the store cannot be reached.
   */
  remove(uid: string, options?: { onlyIfExpired?: boolean }): Promise<boolean>
  /**
   * Reads every stored node and whether it is live.
   * @throws {@link @core/contracts!CoreError} `E_UNAVAILABLE` when the store cannot be reached.
   */
  load(): Promise<NodeSnapshotEntry[]>
  /**
   * Calls `handler` with every change from now on, from this instance and all others sharing
   * the store. `onConnection` hears about the connection to the store: an error when it is
   * lost (the backend keeps trying), `undefined` when it is (re)established — the registry
   * then reloads its view, in case changes were missed meanwhile. Returns the undo.
   */
  watch(
    handler: (change: NodeBackendChange) => void,
    onConnection?: (error: Error | undefined) => void,
  ): () => void
  /** Stops timers, watches and connections. Idempotent. */
  close(): Promise<void>
}
