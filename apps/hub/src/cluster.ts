import { CoreError, type Logger } from '@core/contracts'
import type { ControlSender } from '@core/http'
import type { Kernel } from '@core/kernel'
import {
  type ControlSignal,
  createMindBus,
  type MindBus,
  type MindBusSigningOptions,
} from '@core/mindbus'
import type { FindNodesOptions } from '@core/node-registry'
import type { RemoteCallRequest, RemoteTransport } from '@core/service-registry'
import type { HubConfig } from './config.js'
import type { MindBusSettings } from './mindbus-config.js'
import { redactAmqpUrl } from './mindbus-config.js'
import type { HubNode } from './node.js'
import { NODE_GOSSIP_EVENTS, type NodeGossip, startNodeGossip } from './node-gossip.js'
import { createMindBusAuthorizer } from './policy-config.js'

/**
 * A transport that forwards to the one bound later: the kernel needs its remote transport at
 * creation, MindBus needs the kernel's bus. Before `bind` (and after `unbind`) a remote call
 * fails at once with `E_UNAVAILABLE`.
 */
export interface LateTransport extends RemoteTransport {
  bind(transport: RemoteTransport): void
  unbind(): void
}

/** Creates a {@link LateTransport}. */
export function createLateTransport(): LateTransport {
  let target: RemoteTransport | undefined
  return {
    call(request: RemoteCallRequest, signal: AbortSignal): Promise<unknown> {
      if (target === undefined) {
        return Promise.reject(
          new CoreError(
            'E_UNAVAILABLE',
            `Remote call to "${request.name}" refused: this hub is not (or no longer) connected to the cluster; retry once it is`,
            { details: { service: request.name } },
          ),
        )
      }
      return target.call(request, signal)
    },
    list() {
      return target?.list?.() ?? []
    },
    bind(transport) {
      target = transport
    },
    unbind() {
      target = undefined
    },
  }
}

/** The hub in cluster mode: MindBus and, without etcd, the passport gossip. */
export interface HubCluster {
  readonly mindbus: MindBus
  /** `amqp://host:port/vhost · roles … · events out … in …` (no credentials). */
  describe(): string
  /** Says goodbye (gossip), stops consuming, waits for running handlers, closes. Idempotent. */
  stop(): Promise<void>
}

/** What {@link startCluster} needs besides the settings. */
export interface StartClusterOptions {
  kernel: Kernel
  node: HubNode
  transport: LateTransport
  logger: Logger
  /** `ctl.*.shutdown`: stop the hub gracefully (as SIGTERM does). */
  onShutdown: (signal: ControlSignal) => void
  /** `ctl.*.config`: reads the hub's config again (file and environment). */
  loadConfig: (() => Promise<HubConfig>) | undefined
  /** Signed messages (the hub's `signing` section), or `undefined`: unsigned. */
  signing?: MindBusSigningOptions | undefined
}

/**
 * Joins the cluster: creates MindBus with this hub's node uid as its node id, the node
 * registry as its directory and the kernel's bus for events; binds it as the kernel's remote
 * transport; serves the namespaces of the services registered now and of those that come later
 * (bound before this hub's passport advertises them, unbound when they go); adds the `mindbus`
 * health component (`degraded` while the broker connection is down, with the counters); wires
 * the control signals: `shutdown` stops the hub gracefully, `config` re-reads the config and
 * applies what can change at run time: this node's labels (`node.labels`, `CORE_NODE_LABELS`),
 * which selectors route by; anything else is logged as applying at the next start), while `stop`, `pause` and `resume` act inside MindBus (running
 * commands aborted; command consumers paused and resumed). Without etcd it also starts the
 * passport gossip (`core.node.passport` / `core.node.leave` over MindBus).
 *
 * @throws {@link @core/contracts!CoreError} `E_UNAVAILABLE` when RabbitMQ cannot be reached within 10 s
 *   (MindBus closed again first); `E_VALIDATION` for a bad option.
 */
export async function startCluster(
  settings: MindBusSettings,
  options: StartClusterOptions,
): Promise<HubCluster> {
  const { kernel, node, logger: parent } = options
  const logger = parent.child({ component: 'mindbus' })
  const lease = node.lease
  if (lease === undefined) throw new CoreError('E_INTERNAL', 'startCluster needs a joined node')
  const gossip = node.peers !== undefined
  const mindbus = createMindBus({
    url: settings.url,
    nodeId: lease.uid,
    uid: lease.uid,
    roles: settings.roles,
    // The registry's selector type is the mutable twin of MindBus's structural one.
    directory: { findNodes: (query) => node.registry.findNodes(query as FindNodesOptions) },
    bus: kernel.bus,
    // core_mindbus_* next to every other component's metrics, served at /metrics.
    metrics: kernel.metrics,
    exportEvents: [...settings.exportEvents, ...(gossip ? NODE_GOSSIP_EVENTS : [])],
    importEvents: [...settings.importEvents, ...(gossip ? NODE_GOSSIP_EVENTS : [])],
    dispatchAny: settings.dispatchAny,
    logger,
    // The operator policy, weighed for each command, event and control signal received (none:
    // no hook at all).
    ...(kernel.security.policy === undefined ? {} : { authorize: createMindBusAuthorizer(kernel) }),
    ...(options.signing === undefined ? {} : { signing: options.signing }),
    ...(settings.maxPriority === undefined ? {} : { maxPriority: settings.maxPriority }),
    ...(settings.consumerChannels === undefined
      ? {}
      : { consumerChannels: settings.consumerChannels }),
    ...(settings.maxExpirationMs === undefined
      ? {}
      : { maxExpirationMs: settings.maxExpirationMs }),
    ...(settings.heartbeatS === undefined ? {} : { heartbeatS: settings.heartbeatS }),
    ...(settings.dedupWindowMs === undefined ? {} : { dedupWindowMs: settings.dedupWindowMs }),
    ...(settings.dedupResultBytes === undefined
      ? {}
      : { dedupResultBytes: settings.dedupResultBytes }),
  })
  try {
    await mindbus.start(kernel.services)
  } catch (error) {
    await mindbus.close().catch(() => undefined)
    throw error
  }
  options.transport.bind(mindbus.transport)
  // A plugin loaded (or reloaded into a new namespace) later is bound before the passport
  // advertises its services; MindBus also follows core.plugin.# by itself.
  const unadvertise = node.beforeAdvertise(() => mindbus.refreshNamespaces())
  const removeHealth = kernel.addHealthCheck('mindbus', () => {
    const stats = mindbus.stats()
    return {
      status: mindbus.health(),
      details: {
        url: redactAmqpUrl(settings.url),
        paused: mindbus.paused,
        sent: stats.sent,
        served: stats.served,
        droppedExpired: stats.droppedExpired,
        deadLettered: stats.deadLettered,
        reconnects: stats.reconnects,
        ...(mindbus.health() === 'degraded'
          ? {
              message:
                'RabbitMQ connection lost: remote calls fail with E_UNAVAILABLE until it is back',
            }
          : {}),
      },
    }
  })
  const undo = [
    mindbus.onControl('shutdown', (signal) => {
      logger.warn({ from: signal.from, target: signal.target }, 'control: shutdown requested')
      options.onShutdown(signal)
    }),
    mindbus.onControl('config', async (signal) => {
      logger.info({ from: signal.from }, 'control: config reload requested')
      await reloadConfig(options, logger)
    }),
    ...(['stop', 'pause', 'resume'] as const).map((scope) =>
      mindbus.onControl(scope, (signal) =>
        logger.warn({ from: signal.from, target: signal.target }, `control: ${scope}`),
      ),
    ),
  ]
  const peers = node.peers
  const passportGossip: NodeGossip | undefined =
    peers === undefined
      ? undefined
      : startNodeGossip({
          bus: kernel.bus,
          registry: node.registry,
          peers,
          self: () => lease.passport,
          intervalMs: node.settings.heartbeat.intervalMs,
          ttlMs: node.settings.heartbeat.ttlMs,
          logger,
        })

  let stopped: Promise<void> | undefined
  return {
    mindbus,
    describe: () => {
      const events = [
        settings.exportEvents.length === 0
          ? ''
          : ` · events out ${settings.exportEvents.join(', ')}`,
        settings.importEvents.length === 0 ? '' : ` · in ${settings.importEvents.join(', ')}`,
      ].join('')
      const roles = settings.roles.length === 0 ? '' : ` · roles ${settings.roles.join(', ')}`
      const registry = gossip ? 'passports by gossip' : 'passports in etcd'
      return `${redactAmqpUrl(settings.url)} ${mindbus.health() === 'healthy' ? 'connected' : 'NOT connected'} · node ${lease.uid}${roles}${events} · ${registry}`
    },
    stop: () => {
      stopped ??= (async () => {
        await passportGossip?.stop()
        unadvertise()
        for (const u of undo) u()
        options.transport.unbind()
        await mindbus.close()
        removeHealth()
      })()
      return stopped
    },
  }
}

/** `ctl.*.config`: applies this node's labels from the config read again (validated first). */
async function reloadConfig(options: StartClusterOptions, logger: Logger): Promise<void> {
  if (options.loadConfig === undefined) {
    logger.warn(
      'control: config reload is not available here (the hub was started without a config loader)',
    )
    return
  }
  let next: HubConfig
  try {
    next = await options.loadConfig()
  } catch (error) {
    logger.error({ err: error }, 'control: config reload failed; the running config is kept')
    return
  }
  const applied: string[] = []
  const lease = options.node.lease
  if (
    lease !== undefined &&
    JSON.stringify(lease.passport.metadata.labels ?? {}) !== JSON.stringify(next.node.labels)
  ) {
    await lease.update({ labels: next.node.labels })
    applied.push('node labels')
  }
  logger.warn(
    { applied },
    `control: config reloaded (${applied.length === 0 ? 'nothing changed that applies at run time' : applied.join(', ')}); other settings apply at the next start`,
  )
}

/**
 * The sender of the HTTP control route (`POST /api/v1/control`): forwards to the cluster's
 * MindBus once joined. The route exists before the cluster is joined (routes are fixed at
 * `listen()`), so the cluster is looked up per request.
 * @param cluster - Returns the joined cluster, else `undefined`.
 * @throws {@link @core/contracts!CoreError} (as a rejection) `E_UNAVAILABLE` when cluster mode is off
 *   (no `CORE_AMQP_URL` / `mindbus.url`) or this hub has not joined yet.
 */
export function clusterControlSender(
  config: HubConfig,
  cluster: () => HubCluster | undefined,
): ControlSender {
  return {
    control: (target, scope, data) => {
      const joined = cluster()
      return joined === undefined
        ? Promise.reject(notInCluster(config))
        : joined.mindbus.control(target, scope, data)
    },
  }
}

/** Why a control signal cannot be sent: cluster mode off, or not joined yet. */
function notInCluster(config: HubConfig): CoreError {
  return new CoreError(
    'E_UNAVAILABLE',
    config.mindbus === undefined
      ? 'Control signals need cluster mode: set CORE_AMQP_URL (or mindbus.url in the hub config) to a RabbitMQ URL and restart the hub'
      : 'This hub has not joined the cluster yet; retry in a moment',
  )
}
