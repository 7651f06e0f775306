import type { Clock } from '@core/contracts'
import type {
  NodeBackendChange,
  NodeRecord,
  NodeRegistryBackend,
  NodeSnapshotEntry,
} from './backend.js'
import { readyStatus } from './passport.js'
import type { NodeEntry, NodeHealthState, NodeRegistryEvent } from './types.js'

/** Timings of the health rules, already validated. @internal */
export interface HealthTimings {
  heartbeatIntervalMs: number
  ttlMs: number
  gracePeriodMs: number
}

interface Tracked {
  record: NodeRecord
  lastSeen: number
  /** Liveness as last known: a heartbeat within the TTL and no `expired` since. */
  live: boolean
  health: NodeHealthState
  entry: NodeEntry
  lateTimer: unknown
  offlineTimer: unknown
  removeTimer: unknown
}

const TRANSITION: Record<NodeHealthState, NodeRegistryEvent['type']> = {
  ALIVE: 'ready',
  NOT_READY: 'not_ready',
  OFFLINE: 'offline',
}

/**
 * This instance's view of the membership, fed by the backend's changes, and the health rules
 * applied to it with this instance's clock. One per registry.
 * @internal
 */
export class NodeView {
  private readonly nodes = new Map<string, Tracked>()
  private sorted: NodeEntry[] | undefined
  /** `key=value` → the entries with that label, in the order of {@link NodeView.entries}. */
  private byLabel: Map<string, NodeEntry[]> | undefined
  /** Nodes changed since the current load began: a snapshot older than them must not win. */
  private readonly touched = new Set<string>()

  constructor(
    private readonly clock: Clock,
    private readonly timings: HealthTimings,
    private readonly backend: NodeRegistryBackend,
    private readonly emit: (event: NodeRegistryEvent) => void,
    private readonly onBackendError: (error: unknown) => void,
  ) {}

  get(uid: string): NodeEntry | undefined {
    return this.nodes.get(uid)?.entry
  }

  /** Entries ordered by name, then uid; the array is shared, callers must not change it. */
  entries(): readonly NodeEntry[] {
    this.sorted ??= [...this.nodes.values()]
      .map((t) => t.entry)
      .sort((a, b) => {
        const an = a.passport.metadata.name
        const bn = b.passport.metadata.name
        if (an !== bn) return an < bn ? -1 : 1
        return a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0
      })
    return this.sorted
  }

  /**
   * The entries carrying label `key` = `value`, in the order of {@link NodeView.entries}; the
   * index is built on the first query after a change (one pass over every label).
   */
  withLabel(key: string, value: string): readonly NodeEntry[] {
    if (this.byLabel === undefined) {
      const index = new Map<string, NodeEntry[]>()
      for (const entry of this.entries()) {
        const labels = entry.passport.metadata.labels ?? {}
        for (const k in labels) {
          const id = `${k}=${labels[k]}`
          const bucket = index.get(id)
          if (bucket === undefined) index.set(id, [entry])
          else bucket.push(entry)
        }
      }
      this.byLabel = index
    }
    return this.byLabel.get(`${key}=${value}`) ?? []
  }

  /** Marks the start of a load: changes from now on are newer than its snapshot. */
  beginLoad(): void {
    this.touched.clear()
  }

  /**
   * Applies a backend snapshot: new nodes are added, known ones refreshed, vanished ones
   * removed — except nodes changed since {@link NodeView.beginLoad}, whose changes are newer.
   */
  load(snapshot: readonly NodeSnapshotEntry[]): void {
    const seen = new Set<string>(this.touched)
    for (const item of snapshot) {
      const uid = item.passport.metadata.uid
      if (seen.has(uid)) continue
      seen.add(uid)
      this.apply({
        type: 'put',
        uid,
        record: { passport: item.passport, registeredAt: item.registeredAt },
      })
      if (item.live) this.apply({ type: 'heartbeat', uid })
      else this.apply({ type: 'expired', uid })
    }
    for (const uid of [...this.nodes.keys()]) {
      if (!seen.has(uid)) this.apply({ type: 'deleted', uid })
    }
  }

  apply(change: NodeBackendChange): void {
    this.touched.add(change.uid)
    const tracked = this.nodes.get(change.uid)
    switch (change.type) {
      case 'put': {
        if (tracked === undefined) {
          const now = this.clock.now()
          const fresh: Tracked = {
            record: change.record,
            lastSeen: now,
            live: true,
            health: 'ALIVE',
            entry: undefined as unknown as NodeEntry,
            lateTimer: undefined,
            offlineTimer: undefined,
            removeTimer: undefined,
          }
          fresh.health = this.healthOf(fresh)
          this.nodes.set(change.uid, fresh)
          this.refresh(fresh)
          this.schedule(change.uid, fresh)
          this.emit({ type: 'registered', entry: fresh.entry })
          return
        }
        tracked.record = change.record
        const before = tracked.health
        tracked.health = this.healthOf(tracked)
        this.refresh(tracked)
        this.emit({ type: 'updated', entry: tracked.entry })
        this.announce(tracked, before)
        return
      }
      case 'heartbeat': {
        if (tracked === undefined) return
        tracked.live = true
        tracked.lastSeen = this.clock.now()
        this.clock.clearTimeout(tracked.removeTimer)
        tracked.removeTimer = undefined
        this.schedule(change.uid, tracked)
        this.reevaluate(tracked)
        return
      }
      case 'expired': {
        if (tracked === undefined || !tracked.live) return
        this.goOffline(change.uid, tracked)
        return
      }
      case 'deleted': {
        if (tracked === undefined) return
        this.clearTimers(tracked)
        this.nodes.delete(change.uid)
        this.invalidate()
        this.emit({ type: 'removed', entry: tracked.entry })
        return
      }
    }
  }

  /** Stops every timer (on close). */
  clear(): void {
    for (const tracked of this.nodes.values()) this.clearTimers(tracked)
  }

  private invalidate(): void {
    this.sorted = undefined
    this.byLabel = undefined
  }

  private healthOf(tracked: Tracked): NodeHealthState {
    if (!tracked.live) return 'OFFLINE'
    if (readyStatus(tracked.record.passport) === 'False') return 'NOT_READY'
    const late = this.clock.now() - tracked.lastSeen > 2 * this.timings.heartbeatIntervalMs
    return late ? 'NOT_READY' : 'ALIVE'
  }

  private reevaluate(tracked: Tracked): void {
    const before = tracked.health
    tracked.health = this.healthOf(tracked)
    if (tracked.health === before && tracked.entry.lastSeen === tracked.lastSeen) return
    this.refresh(tracked)
    this.announce(tracked, before)
  }

  private announce(tracked: Tracked, before: NodeHealthState): void {
    if (tracked.health !== before)
      this.emit({ type: TRANSITION[tracked.health], entry: tracked.entry })
  }

  private refresh(tracked: Tracked): void {
    const { passport, registeredAt } = tracked.record
    tracked.entry = Object.freeze({
      nodeId: passport.metadata.uid,
      nodeKind: passport.metadata.nodeType,
      passport,
      lastSeen: tracked.lastSeen,
      healthState: tracked.health,
      registeredAt,
    })
    this.invalidate()
  }

  /** Arms the late (NOT_READY) and TTL (OFFLINE) timers from `lastSeen`. */
  private schedule(uid: string, tracked: Tracked): void {
    const { clock, timings } = this
    clock.clearTimeout(tracked.lateTimer)
    clock.clearTimeout(tracked.offlineTimer)
    const sinceSeen = clock.now() - tracked.lastSeen
    tracked.lateTimer = clock.setTimeout(
      () => {
        tracked.lateTimer = undefined
        if (this.nodes.get(uid) === tracked) this.reevaluate(tracked)
      },
      2 * timings.heartbeatIntervalMs - sinceSeen + 1,
    )
    tracked.offlineTimer = clock.setTimeout(() => {
      tracked.offlineTimer = undefined
      if (this.nodes.get(uid) === tracked && tracked.live) this.goOffline(uid, tracked)
    }, timings.ttlMs - sinceSeen)
  }

  private goOffline(uid: string, tracked: Tracked): void {
    tracked.live = false
    this.clock.clearTimeout(tracked.lateTimer)
    this.clock.clearTimeout(tracked.offlineTimer)
    tracked.lateTimer = undefined
    tracked.offlineTimer = undefined
    this.reevaluate(tracked)
    this.scheduleRemoval(uid, tracked, this.timings.gracePeriodMs)
  }

  /**
   * After the grace period, asks the backend to remove the node if it is still expired
   * (compare-and-delete: one instance wins). The `deleted` change then reaches every view.
   * If the backend still holds its liveness (this view ran ahead), tries again an interval later.
   */
  private scheduleRemoval(uid: string, tracked: Tracked, delayMs: number): void {
    this.clock.clearTimeout(tracked.removeTimer)
    tracked.removeTimer = this.clock.setTimeout(() => {
      tracked.removeTimer = undefined
      if (this.nodes.get(uid) !== tracked || tracked.live) return
      this.backend.remove(uid, { onlyIfExpired: true }).then(
        (removed) => {
          if (!removed && this.nodes.get(uid) === tracked && !tracked.live) {
            this.scheduleRemoval(uid, tracked, this.timings.heartbeatIntervalMs)
          }
        },
        (error: unknown) => {
          this.onBackendError(error)
          if (this.nodes.get(uid) === tracked && !tracked.live) {
            this.scheduleRemoval(uid, tracked, this.timings.heartbeatIntervalMs)
          }
        },
      )
    }, delayMs)
  }

  private clearTimers(tracked: Tracked): void {
    this.clock.clearTimeout(tracked.lateTimer)
    this.clock.clearTimeout(tracked.offlineTimer)
    this.clock.clearTimeout(tracked.removeTimer)
    tracked.lateTimer = tracked.offlineTimer = tracked.removeTimer = undefined
  }
}
