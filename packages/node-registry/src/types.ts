import type {
  Clock,
  Logger,
  NodeCapabilities,
  NodeLabels,
  NodePassport,
  NodeStatus,
  Undo,
} from '@core/contracts'
import type { EventBus } from '@core/event-bus'
import type { NodeRegistryBackend } from './backend.js'
import type { LabelSelector } from './label-selector.js'
import type { NodePassportConverters } from './passport.js'

/**
 * A node's health as the registry sees it: `ALIVE` while heartbeats arrive; `NOT_READY` once a
 * heartbeat is late by more than one interval or the node reports `Ready=False`; `OFFLINE`
 * once its TTL passed without a heartbeat.
 * @public
 */
export type NodeHealthState = 'ALIVE' | 'NOT_READY' | 'OFFLINE'

/**
 * One node in the registry. Frozen; `passport` is the passport as the node gave it.
 * @public
 */
export interface NodeEntry {
  /** `passport.metadata.uid`, the node's identity. */
  readonly nodeId: string
  /** `passport.metadata.nodeType` (`hub`, `agent`, …). */
  readonly nodeKind: string
  readonly passport: NodePassport
  /** Epoch ms (this registry's clock) of the last heartbeat or passport change seen. */
  readonly lastSeen: number
  readonly healthState: NodeHealthState
  /** Epoch ms of the node's first registration. */
  readonly registeredAt: number
}

/** The query of {@link NodeRegistry.findNodes}; every given field must hold. @public */
export interface FindNodesOptions {
  /** Only nodes of this `nodeType`. */
  kind?: string
  /** A Kubernetes label selector (structured or string syntax); absent = no filter. */
  selector?: LabelSelector | string
  /** Only `ALIVE` nodes. @defaultValue false */
  onlyHealthy?: boolean
}

/**
 * What {@link NodeLease.update} may change: each given field replaces the passport's
 * `metadata.labels`, `spec.capabilities` or `status` as a whole.
 * @public
 */
export interface NodeLeasePatch {
  labels?: NodeLabels
  capabilities?: NodeCapabilities
  status?: NodeStatus
}

/**
 * A node's registration, returned by {@link NodeRegistry.register}. It heartbeats by itself
 * every `heartbeatIntervalMs` until released; a heartbeat that cannot reach the backend is
 * retried with exponential backoff (from 100 ms, at most one interval apart) without stopping.
 * Disposing it releases it.
 * @public
 */
export interface NodeLease extends AsyncDisposable {
  /** The node's uid. */
  readonly uid: string
  /** The passport as last registered or updated. */
  readonly passport: NodePassport
  /**
   * Heartbeats now, and restarts the interval from here.
   * @throws {@link @core/contracts!CoreError} `E_UNAVAILABLE` when the backend cannot be reached (the lease
   *   keeps retrying on its own); `E_CANCELLED` after release.
   */
  heartbeat(): Promise<void>
  /**
   * Replaces the given parts of the passport and stores it (`core.node.updated`).
   * @returns The new passport.
   * @throws {@link @core/contracts!CoreError} `E_VALIDATION` naming the bad field; `E_UNAVAILABLE` when the
   *   backend cannot be reached; `E_CANCELLED` after release.
   */
  update(patch: NodeLeasePatch): Promise<NodePassport>
  /** Stops heartbeating and removes the node (`core.node.removed`). Idempotent. */
  release(): Promise<void>
}

/**
 * A change of membership or health: `registered`, `updated`, `ready` (back to `ALIVE`),
 * `not_ready`, `offline`, `removed`, with the entry after the change (before, for `removed`).
 * Published on the bus as `core.node.<type>` with the entry as data.
 * @public
 */
export interface NodeRegistryEvent {
  readonly type: 'registered' | 'updated' | 'ready' | 'not_ready' | 'offline' | 'removed'
  readonly entry: NodeEntry
}

/**
 * The registry's own health: `degraded` while its backend is unreachable (it keeps answering
 * from the last known view and keeps retrying), with the last error's message.
 * @public
 */
export interface NodeRegistryHealth {
  readonly status: 'healthy' | 'degraded'
  readonly backend: string
  readonly message?: string
}

/** Options of {@link createNodeRegistry}. Durations are milliseconds. @public */
export interface CreateNodeRegistryOptions {
  /** Where passports and liveness live. @defaultValue a new memory backend on `clock` */
  backend?: NodeRegistryBackend
  /** How often a lease heartbeats. @defaultValue 10_000 */
  heartbeatIntervalMs?: number
  /** A node without a heartbeat for this long is `OFFLINE`; must exceed the interval. @defaultValue 30_000 */
  ttlMs?: number
  /** An `OFFLINE` node is removed this long after it went offline. @defaultValue 60_000 */
  gracePeriodMs?: number
  /** Time source of every timer. @defaultValue `systemClock` */
  clock?: Clock
  /** Where `core.node.*` events are published. @defaultValue none */
  bus?: EventBus
  /** Readers of passports of other `apiVersion`s. @defaultValue none */
  converters?: NodePassportConverters
  /** Where backend failures are logged. @defaultValue silent */
  logger?: Logger
}

/**
 * The node registry: who is there, what each offers, whether each is alive, which match a
 * selector. It stores and answers; it never schedules and never carries data.
 * @public
 */
export interface NodeRegistry {
  /**
   * Registers (or re-registers: same uid = same node) a passport and returns its lease.
   * When the backend is unreachable the lease is returned anyway and keeps retrying.
   * @throws {@link @core/contracts!CoreError} `E_VALIDATION` naming the bad field; `E_CANCELLED` after close.
   */
  register(passport: unknown): Promise<NodeLease>
  /** The entry of `uid`, or `undefined`. */
  get(uid: string): NodeEntry | undefined
  /** Every entry, ordered by `metadata.name`, then uid. */
  list(): NodeEntry[]
  /**
   * Entries matching every given filter, in the order of {@link NodeRegistry.list}.
   * @throws {@link @core/contracts!CoreError} `E_VALIDATION` for an invalid selector (never matched silently).
   */
  findNodes(options?: FindNodesOptions): NodeEntry[]
  /** Calls `handler` with every {@link NodeRegistryEvent}; returns the undo. */
  watch(handler: (event: NodeRegistryEvent) => void): Undo
  /** Number of nodes per health state (for gauges). */
  counts(): Record<NodeHealthState, number>
  /** The registry's own health. */
  health(): NodeRegistryHealth
  /** Resolves once the first view was loaded from the backend (retrying until it is). */
  ready(): Promise<void>
  /** Stops leases' timers and watches, closes the backend; does not release leases. Idempotent. */
  close(): Promise<void>
}
