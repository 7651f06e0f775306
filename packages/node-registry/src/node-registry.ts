import { CoreError, silentLogger, systemClock, type Undo } from '@core/contracts'
import {
  compileLabelSelector,
  type LabelSelector,
  validateLabelSelector,
} from './label-selector.js'
import { LeaseLoop } from './lease.js'
import { createMemoryNodeRegistryBackend } from './memory-backend.js'
import { NodeView } from './node-view.js'
import { validatePassport } from './passport.js'
import { parseLabelSelector } from './selector-syntax.js'
import type {
  CreateNodeRegistryOptions,
  FindNodesOptions,
  NodeEntry,
  NodeHealthState,
  NodeLease,
  NodeRegistry,
  NodeRegistryEvent,
  NodeRegistryHealth,
} from './types.js'

/** Default heartbeat interval, ms. @public */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 10_000
/** Default TTL without a heartbeat before a node is `OFFLINE`, ms. @public */
export const DEFAULT_NODE_TTL_MS = 30_000
/** Default time an `OFFLINE` node is kept before removal, ms. @public */
export const DEFAULT_GRACE_PERIOD_MS = 60_000

/** Longest wait between two attempts to load the first view, ms. */
const MAX_LOAD_RETRY_MS = 5_000

/**
 * Creates a node registry: nodes register Kubernetes-style passports and get a
 * {@link NodeLease} that heartbeats by itself; every registry sharing the backend sees the same
 * membership and applies the health rules with its own clock:
 *
 * - `ALIVE` while heartbeats arrive;
 * - `NOT_READY` once a heartbeat is late by more than one interval (no heartbeat for
 *   `2 × heartbeatIntervalMs`), or while the node reports the `Ready` condition `False`;
 * - `OFFLINE` when `ttlMs` passes without a heartbeat (or the backend's lease ran out);
 * - removed `gracePeriodMs` after it went offline (by one instance, compare-and-delete);
 * - a heartbeat after `OFFLINE` brings it back to `ALIVE` (`core.node.ready`).
 *
 * Changes reach {@link NodeRegistry.watch} handlers synchronously and the bus as
 * `core.node.registered|updated|ready|not_ready|offline|removed` (data: the entry).
 * Queries answer from this instance's view, so they keep answering (from the last known view)
 * while the backend is down; {@link NodeRegistry.health} is `degraded` meanwhile.
 *
 * @param options - Backend, timings (ms), clock, bus, passport converters, logger.
 * @returns The registry; its first view loads in the background ({@link NodeRegistry.ready}).
 * @throws {@link @core/contracts!CoreError} `E_VALIDATION` when a duration is not a positive integer, when
 *   `ttlMs` ≤ `heartbeatIntervalMs`, or when `gracePeriodMs` is negative.
 * @see Kubernetes node heartbeats (Lease objects, `NodeReady` condition); kubernetes/apimachinery pkg/labels
 * @example
 * ```ts
 * const registry = createNodeRegistry({ bus })
 * const lease = await registry.register({
 *   apiVersion: 'core.runtime/v1', kind: 'NodePassport',
 *   metadata: { uid: randomUUID(), name: 'kitchen-hub', nodeType: 'hub', labels: { room: 'kitchen' } },
 *   spec: { capabilities: { services: [{ name: 'lights.toggle', version: '1.0.0' }] } },
 * })
 * registry.findNodes({ selector: 'room=kitchen', onlyHealthy: true }) // [entry]
 * await lease.release()
 * ```
 * @public
 */
export function createNodeRegistry(options: CreateNodeRegistryOptions = {}): NodeRegistry {
  const heartbeatIntervalMs = options.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS
  const ttlMs = options.ttlMs ?? DEFAULT_NODE_TTL_MS
  const gracePeriodMs = options.gracePeriodMs ?? DEFAULT_GRACE_PERIOD_MS
  checkTimings(heartbeatIntervalMs, ttlMs, gracePeriodMs)
  const clock = options.clock ?? systemClock
  const backend = options.backend ?? createMemoryNodeRegistryBackend({ clock })
  const converters = options.converters ?? {}
  const logger = options.logger ?? silentLogger
  const bus = options.bus

  const handlers = new Set<(event: NodeRegistryEvent) => void>()
  const leases = new Map<string, LeaseLoop>()
  let backendError: string | undefined
  let closed = false

  const reportBackend = (error: unknown): void => {
    if (error === undefined) {
      if (backendError !== undefined) logger.info('node registry backend reachable again')
      backendError = undefined
      return
    }
    const message = error instanceof Error ? error.message : String(error)
    if (backendError === undefined) logger.warn({ message }, 'node registry backend unreachable')
    backendError = message
  }

  const emit = (event: NodeRegistryEvent): void => {
    for (const handler of [...handlers]) {
      try {
        handler(event)
      } catch (error) {
        logger.error({ error }, 'node registry watch handler threw')
      }
    }
    bus
      ?.publish(`core.node.${event.type}`, event.entry, { wait: false })
      .catch((error: unknown) => {
        logger.warn({ type: event.type, error }, 'could not publish a node event')
      })
  }

  const view = new NodeView(
    clock,
    { heartbeatIntervalMs, ttlMs, gracePeriodMs },
    backend,
    emit,
    reportBackend,
  )
  let loadTimer: unknown
  let everLoaded = false
  let resolveReady!: () => void
  const loaded = new Promise<void>((resolve) => {
    resolveReady = resolve
  })
  const load = (attempt: number): void => {
    view.beginLoad()
    backend.load().then(
      (snapshot) => {
        if (closed) return
        view.load(snapshot)
        everLoaded = true
        reportBackend(undefined)
        resolveReady()
      },
      (error: unknown) => {
        if (closed) return
        reportBackend(error)
        clock.clearTimeout(loadTimer)
        loadTimer = clock.setTimeout(
          () => load(attempt + 1),
          Math.min(MAX_LOAD_RETRY_MS, 100 * 2 ** attempt),
        )
      },
    )
  }
  const unwatch = backend.watch(
    (change) => {
      if (!closed) view.apply(change)
    },
    (error) => {
      reportBackend(error)
      // Back after an outage: changes may have been missed, read the whole view again.
      if (error === undefined && !closed && everLoaded) load(0)
    },
  )

  load(0)

  const host = {
    clock,
    backend,
    heartbeatIntervalMs,
    ttlMs,
    reportBackend,
    forget: (lease: LeaseLoop) => {
      if (leases.get(lease.uid) === lease) leases.delete(lease.uid)
    },
  }

  const ensureOpen = (): void => {
    if (closed) throw new CoreError('E_CANCELLED', 'The node registry is closed')
  }

  const registry: NodeRegistry = {
    async register(passport): Promise<NodeLease> {
      ensureOpen()
      const valid = validatePassport(passport, converters)
      const uid = valid.metadata.uid
      const record = { passport: valid, registeredAt: view.get(uid)?.registeredAt ?? clock.now() }
      const known = leases.get(uid)
      if (known !== undefined) {
        await known.replace(record)
        return known.toLease(converters)
      }
      const loop = new LeaseLoop(host, record)
      leases.set(uid, loop)
      await loop.start()
      return loop.toLease(converters)
    },
    get(uid) {
      return view.get(uid)
    },
    list() {
      return [...view.entries()]
    },
    findNodes(query: FindNodesOptions = {}): NodeEntry[] {
      const selector = toSelector(query.selector)
      const matches = selector === undefined ? undefined : compileLabelSelector(selector)
      const { kind } = query
      const onlyHealthy = query.onlyHealthy === true
      // The smallest `matchLabels` bucket of the label index is the candidate list, in order.
      let entries = view.entries()
      for (const [key, value] of Object.entries(selector?.matchLabels ?? {})) {
        const bucket = view.withLabel(key, value)
        if (bucket.length < entries.length) entries = bucket
      }
      const found: NodeEntry[] = []
      for (let i = 0; i < entries.length; i++) {
        const entry = entries[i] as NodeEntry
        if (kind !== undefined && entry.nodeKind !== kind) continue
        if (onlyHealthy && entry.healthState !== 'ALIVE') continue
        if (matches !== undefined && !matches(entry.passport.metadata.labels)) continue
        found.push(entry)
      }
      return found
    },
    watch(handler) {
      handlers.add(handler)
      const undo = (): void => {
        handlers.delete(handler)
      }
      return Object.assign(undo, { [Symbol.dispose]: undo }) as Undo
    },
    counts() {
      const counts: Record<NodeHealthState, number> = { ALIVE: 0, NOT_READY: 0, OFFLINE: 0 }
      for (const entry of view.entries()) counts[entry.healthState]++
      return counts
    },
    health(): NodeRegistryHealth {
      return backendError === undefined
        ? { status: 'healthy', backend: backend.name }
        : {
            status: 'degraded',
            backend: backend.name,
            message: `backend ${backend.name} unreachable: ${backendError}`,
          }
    },
    ready() {
      return loaded
    },
    async close() {
      if (closed) return
      closed = true
      clock.clearTimeout(loadTimer)
      for (const lease of leases.values()) lease.stop()
      leases.clear()
      unwatch()
      view.clear()
      await backend.close()
    },
  }
  return registry
}

function toSelector(selector: LabelSelector | string | undefined): LabelSelector | undefined {
  if (selector === undefined) return undefined
  if (typeof selector === 'string') return parseLabelSelector(selector)
  validateLabelSelector(selector, '/selector')
  return selector
}

function checkTimings(heartbeatIntervalMs: number, ttlMs: number, gracePeriodMs: number): void {
  const errors: { path: string; keyword: string; message: string }[] = []
  const positive = (name: string, value: number): void => {
    if (!Number.isSafeInteger(value) || value <= 0) {
      errors.push({
        path: `/${name}`,
        keyword: 'minimum',
        message: `must be a positive integer of ms (got ${value})`,
      })
    }
  }
  positive('heartbeatIntervalMs', heartbeatIntervalMs)
  positive('ttlMs', ttlMs)
  if (!Number.isSafeInteger(gracePeriodMs) || gracePeriodMs < 0) {
    errors.push({
      path: '/gracePeriodMs',
      keyword: 'minimum',
      message: `must be an integer of ms ≥ 0 (got ${gracePeriodMs})`,
    })
  }
  if (errors.length === 0 && ttlMs <= heartbeatIntervalMs) {
    errors.push({
      path: '/ttlMs',
      keyword: 'exclusiveMinimum',
      message: `must exceed heartbeatIntervalMs (${heartbeatIntervalMs}): a node would go OFFLINE between two heartbeats (got ${ttlMs})`,
    })
  }
  if (errors.length === 0) return
  throw new CoreError(
    'E_VALIDATION',
    `Invalid node registry timings: ${errors.map((e) => `${e.path} ${e.message}`).join('; ')}`,
    { details: { errors } },
  )
}
