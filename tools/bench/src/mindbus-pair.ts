/**
 * Set-up shared by the MindBus benchmarks (`mindbus.bench.ts`, `mindbus-signing.bench.ts`): two
 * MindBus nodes on a topology of their own, dropping it afterwards, and a reachability probe.
 */
import { connect as tcpConnect } from 'node:net'
import { silentLogger } from '@core/contracts'
import {
  createMindBus,
  type MindBus,
  type MindBusSigningOptions,
  type NodeDirectory,
} from '@core/mindbus'
import { createServiceRegistry, type ServiceRegistry } from '@core/service-registry'
import { Connection as RabbitConnection } from 'rabbitmq-client'
import { type Call, PAYLOAD, URL_ } from './mindbus-sides.js'

/** The MindBus options a pair is measured with. */
export interface PairOptions {
  maxPriority: number
  consumerChannels?: number
  persistentCommands?: boolean
  signing?: MindBusSigningOptions
}

/**
 * Two MindBus nodes on their own topology (names start with `tag`): `caller` calls
 * `bench.echo` served by `server`. `close()` closes both and deletes their queues and exchanges.
 */
export async function mindbusPair(
  tag: string,
  options: PairOptions,
): Promise<{ call: Call; close: () => Promise<void> }> {
  const topology = {
    exchange: `${tag}.main`,
    deadLetterExchange: `${tag}.dlx`,
    deadLetterQueue: `${tag}.dead`,
    queuePrefix: tag,
  }
  let servers: ServiceRegistry | undefined
  const directory: NodeDirectory = {
    findNodes: () => [
      {
        nodeId: `${tag}-server`,
        passport: {
          metadata: { uid: `${tag}-server`, name: 'server' },
          spec: {
            capabilities: {
              services: (servers?.list() ?? []).map((s) => ({ name: s.name, version: s.version })),
            },
          },
        },
      },
    ],
  }
  const make = (id: string): { mb: MindBus; services: ServiceRegistry } => {
    const mb = createMindBus({
      url: URL_,
      nodeId: id,
      directory,
      topology,
      maxPriority: options.maxPriority,
      ...(options.consumerChannels === undefined
        ? {}
        : { consumerChannels: options.consumerChannels }),
      ...(options.persistentCommands === undefined
        ? {}
        : { persistentCommands: options.persistentCommands }),
      ...(options.signing === undefined ? {} : { signing: options.signing }),
      logger: silentLogger,
    })
    return { mb, services: createServiceRegistry({ remote: mb.transport, logger: silentLogger }) }
  }
  const server = make(`${tag}-server`)
  const caller = make(`${tag}-caller`)
  server.services.register('bench.echo', (p: unknown) => p, { params: {} })
  servers = server.services
  await server.mb.start(server.services)
  await caller.mb.start(caller.services)
  return {
    call: () => caller.services.call('bench.echo', PAYLOAD),
    close: async () => {
      await caller.mb.close()
      await server.mb.close()
      await dropTopology(topology, [
        `${tag}.node.${tag}-server`,
        `${tag}.node.${tag}-caller`,
        `${tag}.ctl.${tag}-server`,
        `${tag}.ctl.${tag}-caller`,
        `${tag}.cmd.bench`,
      ])
    },
  }
}

/** Deletes `queues`, the dead-letter queue and both exchanges of a benchmark topology. */
export async function dropTopology(
  t: { exchange: string; deadLetterExchange: string; deadLetterQueue: string },
  queues: string[],
): Promise<void> {
  const conn = new RabbitConnection({ url: URL_ })
  await conn.onConnect(5_000)
  for (const q of [...queues, t.deadLetterQueue]) await conn.queueDelete(q).catch(() => undefined)
  await conn.exchangeDelete({ exchange: t.exchange }).catch(() => undefined)
  await conn.exchangeDelete({ exchange: t.deadLetterExchange }).catch(() => undefined)
  await conn.close()
}

/** Whether a TCP connection to `url`'s host and port (else `defaultPort`) opens within 1 s. */
export function reachable(url: string, defaultPort = 5672): Promise<boolean> {
  const u = new URL(url)
  return new Promise((resolve) => {
    const socket = tcpConnect({ host: u.hostname, port: Number(u.port || defaultPort) })
    const done = (ok: boolean): void => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(1_000, () => done(false))
    socket.once('connect', () => done(true))
    socket.once('error', () => done(false))
  })
}
