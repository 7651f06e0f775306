import type { CloudEvent, Logger, NodePassport } from '@core/contracts'
import type { EventBus } from '@core/event-bus'
import type { NodeRegistry, NodeRegistryBackend } from '@core/node-registry'
import { validatePassport } from '@core/node-registry'

/** The event a hub publishes with its passport: at join (`hello`), on change, every heartbeat. */
export const NODE_PASSPORT_EVENT = 'core.node.passport'
/** The event a hub publishes when it leaves the cluster (graceful shutdown). */
export const NODE_LEAVE_EVENT = 'core.node.leave'
/** Both, as MindBus event patterns (bound as `evt.core.node.passport` / `evt.core.node.leave`). */
export const NODE_GOSSIP_EVENTS: readonly string[] = [NODE_PASSPORT_EVENT, NODE_LEAVE_EVENT]

/** Data of {@link NODE_PASSPORT_EVENT}. */
export interface NodePassportEventData {
  passport: NodePassport
  /** How long the receivers keep it alive without a newer heartbeat, ms. */
  ttlMs: number
  /** True on join: the receivers answer with their own passport at once. */
  hello?: boolean
}

/** What {@link startNodeGossip} needs. */
export interface StartNodeGossipOptions {
  /** The local bus, bridged to the cluster by MindBus for {@link NODE_GOSSIP_EVENTS}. */
  bus: EventBus
  registry: NodeRegistry
  /** The backend remote passports are applied through (the memory store of `registry`). */
  peers: NodeRegistryBackend
  /** This hub's current passport. */
  self: () => NodePassport
  intervalMs: number
  ttlMs: number
  logger: Logger
}

/** A running gossip; `stop()` says goodbye (published before it resolves). */
export interface NodeGossip {
  stop(): Promise<void>
}

/**
 * Shares node passports between hubs without a shared registry (no etcd): this hub publishes
 * its passport on the local bus as {@link NODE_PASSPORT_EVENT} when it joins (with `hello`, so
 * the others answer at once), whenever it changes and on every heartbeat interval; MindBus
 * exports and imports these events. A passport received from another hub is validated and put
 * into the memory registry with the sender's TTL, renewed by each later one: a hub that stops
 * publishing (killed, partitioned) goes OFFLINE when its TTL passes, and so leaves the
 * candidates of remote calls. {@link NODE_LEAVE_EVENT} removes it at once. A passport or a
 * leave counts only from the node it names (the event `source`, the sender's MindBus uid):
 * that is what the sender declares, so against a broker user forging it, sign MindBus messages
 * or restrict who may publish `evt.core.node.*` (docs/security.md).
 */
export function startNodeGossip(options: StartNodeGossipOptions): NodeGossip {
  const { bus, registry, peers, logger } = options
  const selfUid = (): string => options.self().metadata.uid
  let lastSent = ''
  const publishOwn = (hello: boolean): void => {
    const passport = options.self()
    lastSent = JSON.stringify(passport)
    const data: NodePassportEventData = {
      passport,
      ttlMs: options.ttlMs,
      ...(hello ? { hello } : {}),
    }
    bus.publish(NODE_PASSPORT_EVENT, data).catch((error: unknown) => {
      logger.warn({ err: error }, 'could not publish this node passport to the cluster')
    })
  }
  const apply = async (event: CloudEvent): Promise<void> => {
    const data = event.data as Partial<NodePassportEventData> | undefined
    let passport: NodePassport
    try {
      passport = validatePassport(data?.passport)
    } catch (error) {
      logger.warn({ err: error, source: event.source }, 'ignored an invalid node passport event')
      return
    }
    const uid = passport.metadata.uid
    if (uid === selfUid()) return
    if (uid !== event.source) {
      // A hub speaks for itself only: its MindBus `source` is its uid.
      logger.warn(
        { source: event.source, uid },
        'ignored a node passport sent by another node than the one it describes',
      )
      return
    }
    const ttlMs =
      typeof data?.ttlMs === 'number' && data.ttlMs > 0 ? Math.min(data.ttlMs, 3_600_000) : 30_000
    const known = registry.get(uid)
    const record = { passport, registeredAt: known?.registeredAt ?? Date.now() }
    if (known === undefined || JSON.stringify(known.passport) !== JSON.stringify(passport))
      await peers.put(record)
    await peers.heartbeat(record, ttlMs)
    if (data?.hello === true) publishOwn(false)
  }
  const subscriptions = [
    bus.subscribe(NODE_PASSPORT_EVENT, (event) =>
      apply(event).catch((error: unknown) =>
        logger.warn({ err: error }, 'could not apply a node passport from the cluster'),
      ),
    ),
    bus.subscribe(NODE_LEAVE_EVENT, async (event) => {
      const uid = (event.data as { uid?: unknown } | undefined)?.uid
      if (typeof uid !== 'string' || uid === selfUid()) return
      if (uid !== event.source) {
        logger.warn({ source: event.source, uid }, 'ignored a node leave sent by another node')
        return
      }
      await peers.remove(uid).catch(() => false)
    }),
  ]
  // Plugins starting or stopping change the passport's services: tell the others at once.
  const unwatch = registry.watch((event) => {
    if (event.entry.nodeId !== selfUid() || event.type !== 'updated') return
    if (JSON.stringify(options.self()) !== lastSent) publishOwn(false)
  })
  const timer = setInterval(() => publishOwn(false), options.intervalMs)
  timer.unref()
  publishOwn(true)

  let stopped: Promise<void> | undefined
  return {
    stop: () => {
      stopped ??= (async () => {
        clearInterval(timer)
        unwatch()
        for (const undo of subscriptions) undo()
        await bus.publish(NODE_LEAVE_EVENT, { uid: selfUid() }).catch(() => undefined)
      })()
      return stopped
    },
  }
}
