/**
 * MindBus with signed messages (issue 13 §3): the remote-call round trip with signing on vs off,
 * in one run against one RabbitMQ, at concurrency 1 and 64. Signing on means the command is
 * signed by the caller and verified by the server (HMAC-SHA256 over the RFC 8785 canonical
 * envelope, time window, replay store), and the result the same way back. Three sides:
 * unsigned; signed with the in-memory replay store; signed with the replay store on Redis (what a
 * hub with `CORE_REDIS_URL` uses: one `SET NX PX` per message), when Redis answers.
 *
 * Run: `npx tsx tools/bench/src/run.ts mindbus-signing` (or `pnpm bench mindbus-signing`).
 */
import { randomBytes } from 'node:crypto'
import { connect as tcpConnect } from 'node:net'
import { silentLogger } from '@core/contracts'
import { createMindBus, type MindBusSigningOptions, type NodeDirectory } from '@core/mindbus'
import { createServiceRegistry, type ServiceRegistry } from '@core/service-registry'
import { createMemoryReplayStore, createRedisReplayStore, type SigningKey } from '@core/signing'
import { Redis } from 'ioredis'
import { Connection } from 'rabbitmq-client'
import { compare, emit, type Figure, ratio } from './measure.js'

const AMQP = process.env.CORE_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672'
const REDIS = process.env.CORE_REDIS_URL ?? 'redis://127.0.0.1:6379'
const PAYLOAD = { x: 1, y: 2, text: 'x'.repeat(100) }
const run = randomBytes(3).toString('hex')
const KEYS: SigningKey[] = [
  { id: 'bench', algorithm: 'hmac-sha256', secret: randomBytes(32).toString('hex') },
]

type Call = () => Promise<unknown>

export default async function mindbusSigningBench(): Promise<void> {
  if (!(await reachable(AMQP, 5672))) {
    emitSkip(`RabbitMQ not reachable at ${AMQP}`)
    return
  }
  const redisUp = await reachable(REDIS, 6379)
  const redis = redisUp ? new Redis(REDIS) : undefined
  const signed = (replay: 'memory' | 'redis'): MindBusSigningOptions => ({
    keys: KEYS,
    keyId: 'bench',
    replay:
      replay === 'memory' || redis === undefined
        ? createMemoryReplayStore()
        : createRedisReplayStore({ redis, keyPrefix: `bench:${run}:replay:` }),
  })
  const sides: Record<string, { call: Call; close: () => Promise<void> }> = {
    unsigned: await pair('u', undefined),
    'signed memory replay': await pair('m', signed('memory')),
    ...(redis === undefined ? {} : { 'signed redis replay': await pair('r', signed('redis')) }),
  }
  try {
    const c1 = await compare(
      Object.fromEntries(Object.entries(sides).map(([k, v]) => [`mindbus ${k} c1`, v.call])),
      { batch: 200, rounds: 5, warmup: 1 },
    )
    const c64 = await waves(
      Object.fromEntries(Object.entries(sides).map(([k, v]) => [`mindbus ${k} c64`, v.call])),
      64,
      { waves: 20, rounds: 5 },
    )
    for (const f of Object.values(c1)) emit({ ...f, concurrency: 1 })
    for (const f of Object.values(c64)) emit(f)
    for (const c of ['c1', 'c64'] as const) {
      const figures = c === 'c1' ? c1 : c64
      const base = figures[`mindbus unsigned ${c}`] as Figure
      for (const side of Object.keys(sides).filter((s) => s !== 'unsigned')) {
        ratio(`mindbus ${side} / unsigned ${c}`, figures[`mindbus ${side} ${c}`] as Figure, base)
      }
    }
  } finally {
    for (const side of Object.values(sides)) await side.close()
    redis?.disconnect()
  }
}

/** Two MindBus nodes on their own topology (no priority queue): `caller` calls `bench.echo`. */
async function pair(
  name: string,
  signing: MindBusSigningOptions | undefined,
): Promise<{ call: Call; close: () => Promise<void> }> {
  const tag = `bs${run}${name}`
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
  const make = (id: string) => {
    const mb = createMindBus({
      url: AMQP,
      nodeId: id,
      directory,
      topology,
      maxPriority: 0,
      logger: silentLogger,
      ...(signing === undefined ? {} : { signing }),
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
      const conn = new Connection({ url: AMQP })
      await conn.onConnect(5_000)
      for (const q of [
        `${tag}.node.${tag}-server`,
        `${tag}.node.${tag}-caller`,
        `${tag}.ctl.${tag}-server`,
        `${tag}.ctl.${tag}-caller`,
        `${tag}.cmd.bench`,
        topology.deadLetterQueue,
      ]) {
        await conn.queueDelete(q).catch(() => undefined)
      }
      await conn.exchangeDelete({ exchange: topology.exchange }).catch(() => undefined)
      await conn.exchangeDelete({ exchange: topology.deadLetterExchange }).catch(() => undefined)
      await conn.close()
    },
  }
}

/**
 * Calls/s at `concurrency`: per round and side (alternating the order), `waves` waves of
 * `concurrency` calls at once; the median of the rounds, not rounded before scaling.
 */
async function waves(
  sides: Record<string, Call>,
  concurrency: number,
  options: { waves: number; rounds: number },
): Promise<Record<string, Figure>> {
  const names = Object.keys(sides)
  const rates: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]))
  const wave = (call: Call) => Promise.all(Array.from({ length: concurrency }, call))
  for (const n of names) await wave(sides[n] as Call)
  for (let r = 0; r < options.rounds; r++) {
    for (const n of r % 2 === 0 ? names : [...names].reverse()) {
      const start = performance.now()
      for (let w = 0; w < options.waves; w++) await wave(sides[n] as Call)
      rates[n]?.push((options.waves * concurrency * 1000) / (performance.now() - start))
    }
  }
  return Object.fromEntries(
    names.map((n) => {
      const sorted = [...(rates[n] ?? [])].sort((a, b) => a - b)
      const median = sorted[sorted.length >> 1] ?? 0
      return [n, { name: n, ops_per_s: Math.round(median), samples: options.rounds, concurrency }]
    }),
  )
}

function emitSkip(reason: string): void {
  process.stdout.write(`${JSON.stringify({ skipped: 'mindbus-signing', reason })}\n`)
}

function reachable(url: string, defaultPort: number): Promise<boolean> {
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
