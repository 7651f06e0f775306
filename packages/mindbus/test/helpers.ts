/**
 * Test helpers for the real RabbitMQ: reachability (fail under CI, skip locally), an in-memory
 * node directory, unique topology names, and in-process "nodes" (registry + bus + MindBus).
 */
import { randomBytes, randomUUID } from 'node:crypto'
import { IN_CI, probeServer } from '@core/contracts/testing'
import { createEventBus, type EventBus } from '@core/event-bus'
import { createServiceRegistry, type ServiceRegistry } from '@core/service-registry'
import { createRecordingLogger } from '@core/testing'
import { Connection } from 'rabbitmq-client'
import {
  type CreateMindBusOptions,
  createMindBus,
  type LabelSelectorLike,
  type MindBus,
  type MindBusTopology,
  type NodeDirectory,
  type NodeEntryLike,
} from '../src/index.js'

export const AMQP_URL: string = process.env.CORE_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672'
export { IN_CI }

const START_HINT = 'start it with: rabbitmq-server -detached (or set CORE_AMQP_URL)'

const broker = await probeServer({
  name: 'RabbitMQ',
  url: AMQP_URL,
  hint: START_HINT,
  tag: '@core/mindbus',
})

/** True when the broker answers on TCP. */
export const brokerUp: boolean = broker.reachable

/** True when the broker suite must be skipped (down, and not under CI). Warns once. */
export const skipBroker: boolean = broker.skip

/** For `beforeAll`: under CI an unreachable broker fails the suite. */
export function requireBroker(): void {
  broker.require()
}

/**
 * A CloudEvents 1.0 envelope as any MindBus client writes it, for tests that publish straight to
 * the exchange: `core.mindbus.command` data `{ action, params }`, `core.mindbus.control` data
 * `{ scope, target, data }`.
 */
export function rawEnvelope(
  type: 'core.mindbus.command' | 'core.mindbus.control',
  source: string,
  data: unknown,
  id: string = randomUUID(),
): Record<string, unknown> {
  return { specversion: '1.0', id, source, type, time: new Date().toISOString(), data }
}

/** Exchange and queue names of one test run, so runs never share queues. */
export function uniqueTopology(): Required<MindBusTopology> {
  const id = randomBytes(4).toString('hex')
  return {
    exchange: `t-${id}.main`,
    deadLetterExchange: `t-${id}.dlx`,
    deadLetterQueue: `t-${id}.dead`,
    queuePrefix: `t-${id}`,
  }
}

/** An in-memory node directory: `matchLabels` objects and `k=v,k2=v2` strings as selectors. */
export class MemoryDirectory implements NodeDirectory {
  readonly entries = new Map<string, NodeEntryLike & { healthy: boolean }>()

  set(
    nodeId: string,
    services: ServiceRegistry,
    labels: Record<string, string> = {},
    healthy = true,
  ): void {
    this.entries.set(nodeId, {
      nodeId,
      healthy,
      passport: {
        metadata: { uid: `uid-${nodeId}`, name: nodeId, labels },
        spec: {
          roles: [],
          capabilities: {
            services: services.list().map((s) => ({ name: s.name, version: s.version })),
          },
        },
      },
    })
  }

  findNodes(query: { selector?: LabelSelectorLike; onlyHealthy?: boolean }): NodeEntryLike[] {
    const wanted = toLabels(query.selector)
    return [...this.entries.values()].filter(
      (e) =>
        (!query.onlyHealthy || e.healthy) &&
        Object.entries(wanted).every(([k, v]) => e.passport.metadata.labels?.[k] === v),
    )
  }
}

function toLabels(selector: LabelSelectorLike | undefined): Record<string, string> {
  if (selector === undefined) return {}
  if (typeof selector !== 'string') return selector.matchLabels ?? {}
  return Object.fromEntries(
    selector.split(',').map((p) => p.split('=').map((s) => s.trim()) as [string, string]),
  )
}

/** Deletes the queues and exchanges a test run declared on the shared broker. */
export async function dropTopology(
  topology: Required<MindBusTopology>,
  nodeIds: readonly string[],
  namespaces: readonly string[],
  extraQueues: readonly string[] = [],
): Promise<void> {
  const conn = new Connection({ url: AMQP_URL })
  await conn.onConnect(5_000)
  const p = topology.queuePrefix
  const queues = [
    ...nodeIds.flatMap((id) => [`${p}.node.${id}`, `${p}.ctl.${id}`, `${p}.evt.${id}`]),
    ...namespaces.map((ns) => `${p}.cmd.${ns}`),
    ...extraQueues,
    topology.deadLetterQueue,
  ]
  for (const q of queues) await conn.queueDelete(q).catch(() => undefined)
  await conn.exchangeDelete({ exchange: topology.exchange }).catch(() => undefined)
  await conn.exchangeDelete({ exchange: topology.deadLetterExchange }).catch(() => undefined)
  await conn.close()
}

export interface TestNode {
  id: string
  services: ServiceRegistry
  bus: EventBus
  mindbus: MindBus
  logger: ReturnType<typeof createRecordingLogger>
}

/** A node: its own registry and bus, with a MindBus on the shared topology (not started). */
export function makeNode(
  id: string,
  directory: NodeDirectory,
  topology: MindBusTopology,
  options: Partial<CreateMindBusOptions> = {},
): TestNode {
  const logger = createRecordingLogger()
  const bus = createEventBus({ source: `/nodes/${id}` })
  const mindbus = createMindBus({
    url: AMQP_URL,
    nodeId: id,
    uid: `uid-${id}`,
    directory,
    bus,
    topology,
    consumerChannels: 4,
    sharedConsumerChannels: 2,
    logger,
    ...options,
  })
  const services = createServiceRegistry({ remote: mindbus.transport, logger })
  return { id, services, bus, mindbus, logger }
}
