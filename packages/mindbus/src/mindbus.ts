import { CoreError } from '@core/contracts'
import type { ServiceRegistry } from '@core/service-registry'
import type { Registry } from 'prom-client'
import { Connection } from 'rabbitmq-client'
import { CandidatePicker } from './candidates.js'
import { CommandServer } from './command-server.js'
import { ControlChannel } from './control.js'
import { EventsBridge } from './events-bridge.js'
import { createMindBusMetrics } from './metrics.js'
import { RemoteCaller } from './remote-caller.js'
import { connectionReady, createNodeState } from './state.js'
import type {
  ControlHandler,
  ControlScope,
  CreateMindBusOptions,
  MindBus,
  MindBusStats,
} from './types.js'

/**
 * Creates a MindBus node: service calls, events and control signals between hubs over
 * RabbitMQ (AMQP 0-9-1), with CloudEvents 1.0 JSON envelopes. It starts connecting at once
 * (in the background, reconnecting); {@link MindBus.start} waits for the connection.
 *
 * - Remote calls: `mindbus.transport` is the service registry's `remote`. A call not served
 *   locally goes to a healthy node whose passport lists the service with a satisfying
 *   version (narrowed by `meta.route.node` / `meta.route.selector`), the least busy one first,
 *   then round robin, as a command on `cmd.<ns>.<nodeId>` (or `cmd.<ns>.any`, fair dispatch)
 *   with priority 20, `expiration` = the time left (capped by `maxExpirationMs`), direct
 *   reply-to, persistent and confirmed. No candidate → `E_SERVICE_NOT_FOUND` at once;
 *   disconnected → `E_UNAVAILABLE` at once. The caller's abort reaches the serving node as a
 *   `ctl.<node>.cancel` signal.
 * - Serving: `consumerChannels` channels of prefetch 1 on `mindbus.node.<nodeId>`, and
 *   `sharedConsumerChannels` on each `mindbus.cmd.<ns>`; a command runs through
 *   `services.serve`, its result is sent, then it is acked. Unreadable → nack to
 *   `mindbus.dead`; expired on arrival → acked, not run (`DroppedExpired`); a command id seen
 *   in the last `dedupWindowMs` is never run again: answered with the first result while it
 *   is held (`dedupResultBytes`), else with `E_CONFLICT` (dropped while it still runs).
 * - Events and control: see {@link CreateMindBusOptions.exportEvents} and {@link MindBus.control}.
 * - Connection: TCP_NODELAY, heartbeats, reconnect with backoff and topology re-declared by
 *   `rabbitmq-client`.
 * - Metrics: `core_mindbus_*` Prometheus metrics on the registry given as `metrics` (or later to
 *   {@link MindBus.registerMetrics}); never on prom-client's global registry.
 *
 * @param options - See {@link CreateMindBusOptions}: `url`, `nodeId` and `directory` are required.
 * @returns The {@link MindBus} (not yet connected).
 * @throws {@link @core/contracts!CoreError} `E_VALIDATION` for a bad `nodeId`, role, `url` or number option.
 * @see MindBus v1.0; CloudEvents 1.0 JSON Event Format and AMQP binding; AMQP 0-9-1;
 *   RabbitMQ "Direct Reply-to", "Priority Queues", "Dead Letter Exchanges"; W3C Trace Context
 * @example
 * ```ts
 * const mindbus = createMindBus({ url: 'amqp://guest:guest@127.0.0.1:5672', nodeId: 'hub-a', directory })
 * const services = createServiceRegistry({ remote: mindbus.transport })
 * await mindbus.start(services)
 * await services.call('lights.set', { on: true }, { meta: { route: { selector: 'room=kitchen' } } })
 * ```
 * @public
 */
export function createMindBus(options: CreateMindBusOptions): MindBus {
  const state = createNodeState(options)
  const { names } = state
  const conn = new Connection({
    url: state.options.url,
    noDelay: true,
    heartbeat: state.options.heartbeatS,
    retryLow: 200,
    retryHigh: 5_000,
    connectionName: `mindbus ${state.options.nodeId}`,
  })
  let connectedOnce = false
  conn.on('connection', () => {
    if (connectedOnce) state.stats.reconnects++
    connectedOnce = true
  })
  conn.on('error', (err: unknown) =>
    state.logger.warn({ err }, 'MindBus connection error (reconnecting)'),
  )
  const publisher = conn.createPublisher({
    confirm: true,
    maxAttempts: 2,
    exchanges: [
      { exchange: names.exchange, type: 'topic', durable: true },
      { exchange: names.dlx, type: 'topic', durable: true },
    ],
    queues: [{ queue: names.deadQueue, durable: true, arguments: { 'x-max-length': 100_000 } }],
    queueBindings: [{ exchange: names.dlx, queue: names.deadQueue, routingKey: '#' }],
  })
  const picker = new CandidatePicker(options.directory, state.options.nodeId)
  const caller = new RemoteCaller(state, conn, picker)
  const commands = new CommandServer(state, conn)
  const control = new ControlChannel(state, conn, publisher, commands)
  const events =
    options.bus === undefined ? undefined : new EventsBridge(state, conn, publisher, options.bus)
  caller.cancelRemote = (target, id, ttlMs) => {
    control.send(target, 'cancel', { id }, ttlMs).catch((err: unknown) => {
      state.logger.warn({ err, id }, 'MindBus: could not send a cancel signal')
    })
  }
  let started = false
  let closed: Promise<void> | undefined
  let registry: ServiceRegistry | undefined
  let unfollow: (() => void) | undefined
  function refreshNamespaces(): Promise<void> {
    if (registry === undefined || closed !== undefined || options.namespaces !== undefined) {
      return Promise.resolve()
    }
    return commands.queues.update(servedNamespaces(registry))
  }

  async function queueDepths(): Promise<Record<string, number>> {
    if (!connectionReady(conn)) {
      throw new CoreError(
        'E_UNAVAILABLE',
        'Cannot read MindBus queue depths: the broker connection is down; retry when it is back',
      )
    }
    const queues = [names.nodeQueue, names.controlQueue]
    if (events !== undefined && state.options.importEvents.length > 0) queues.push(names.eventQueue)
    const depths: Record<string, number> = {}
    for (const queue of queues) {
      try {
        depths[queue] = (await conn.queueDeclare({ queue, passive: true })).messageCount
      } catch {
        // not declared (yet): this node has not started
      }
    }
    return depths
  }
  const metrics = createMindBusMetrics({
    stats: () => state.stats,
    connected: () => connectionReady(conn),
    queueDepths,
  })
  caller.onRoundTrip = metrics.observeRoundTrip
  if (options.metrics !== undefined) metrics.register(options.metrics)

  return {
    transport: caller.transport,
    async start(services: ServiceRegistry): Promise<void> {
      if (started) return
      started = true
      try {
        await conn.onConnect(10_000)
      } catch (cause) {
        throw new CoreError(
          'E_UNAVAILABLE',
          `MindBus cannot reach RabbitMQ at ${redact(state.options.url)} within 10 s; start the broker or fix the url`,
          { cause },
        )
      }
      // Declare the exchanges and the dead-letter queue before any consumer binds to them.
      await conn.exchangeDeclare({ exchange: names.exchange, type: 'topic', durable: true })
      await conn.exchangeDeclare({ exchange: names.dlx, type: 'topic', durable: true })
      await conn.queueDeclare({
        queue: names.deadQueue,
        durable: true,
        arguments: { 'x-max-length': 100_000 },
      })
      await conn.queueBind({ exchange: names.dlx, queue: names.deadQueue, routingKey: '#' })
      registry = services
      const namespaces = options.namespaces ?? servedNamespaces(services)
      await Promise.all([commands.start(services, namespaces), control.start(), events?.start()])
      if (options.namespaces === undefined && options.bus !== undefined) {
        // The kernel publishes core.plugin.<state> on every plugin transition: the same
        // signal the node passport follows for its capabilities.
        unfollow = options.bus.subscribe('core.plugin.#', () => {
          void refreshNamespaces()
        })
        // A plugin may have changed between the list above and the subscription.
        await refreshNamespaces()
      }
    },
    refreshNamespaces,
    get namespaces(): readonly string[] {
      return commands.queues.namespaces
    },
    control: (target, scope, data) => control.send(target, scope, data),
    onControl: (scope: ControlScope, handler: ControlHandler) => control.on(scope, handler),
    get paused(): boolean {
      return commands.isPaused
    },
    health: () => (connectionReady(conn) ? 'healthy' : 'degraded'),
    stats: (): MindBusStats => structuredClone(state.stats),
    queueDepths,
    registerMetrics: (registry: Registry): void => metrics.register(registry),
    close(): Promise<void> {
      closed ??= (async () => {
        unfollow?.()
        await events?.close()
        await Promise.allSettled([commands.close(), control.close()])
        await caller.close()
        await publisher.close()
        await conn.close()
      })()
      return closed
    },
  }
}

/** The namespaces of the services registered in `services`. */
function servedNamespaces(services: ServiceRegistry): string[] {
  return [...new Set(services.list().map((s) => s.name.split('.')[0] as string))]
}

/** The url without its password, for messages. */
function redact(url: string): string {
  try {
    const u = new URL(url)
    if (u.password !== '') u.password = '***'
    return u.toString()
  } catch {
    return '(unparsable url)'
  }
}
