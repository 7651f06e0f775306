import { readdirSync, readFileSync } from 'node:fs'
import { silentLogger } from '@core/contracts'
import { createEventBus } from '@core/event-bus'
import { createMindBus, type NodeDirectory } from '@core/mindbus'
import { createServiceRegistry } from '@core/service-registry'
import { CloudEvent } from 'cloudevents'
// The package's own envelope check (internal; measured here as the SDK's alternative).
import { readEnvelope } from '../../../packages/mindbus/src/envelope.js'
import { compare, emit, type Figure, percentile, ratio } from './measure.js'
import { dropTopology, mindbusPair, reachable } from './mindbus-pair.js'
import {
  amqpConnectionManager,
  type Call,
  moleculerAmqp,
  PAYLOAD,
  rabbitmqClient,
  rabbitmqClientSpec,
  rawAmqplib,
  rawAmqplibSpec,
  run,
  URL_,
} from './mindbus-sides.js'

/** Two MindBus nodes at this priority level, channel count and command persistence. */
function pairAt(
  maxPriority: number,
  consumerChannels = 16,
  persistentCommands = true,
): ReturnType<typeof mindbusPair> {
  const tag = `b${run}p${maxPriority}c${consumerChannels}${persistentCommands ? '' : 't'}`
  return mindbusPair(tag, { maxPriority, consumerChannels, persistentCommands })
}

/** CPU of the broker process (`beam.smp`) in µs, when it runs on this machine; else undefined. */
function brokerCpuUs(): number | undefined {
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue
    try {
      if (!readFileSync(`/proc/${pid}/comm`, 'utf8').startsWith('beam.smp')) continue
      const fields = (readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1] ?? '').split(' ')
      return ((Number(fields[11]) + Number(fields[12])) * 1e6) / 100
    } catch {
      // gone, or not readable
    }
  }
  return undefined
}

/** CPU per call at c64 (this process, and the broker when local), µs: medians of 3 rounds. */
async function cpuPerCall(
  sides: Record<string, { call: Call }>,
  waves: number,
): Promise<Record<string, { node_cpu_us_per_call: number; broker_cpu_us_per_call?: number }>> {
  const node: Record<string, number[]> = {}
  const broker: Record<string, number[]> = {}
  for (let round = 0; round < 3; round++) {
    for (const [name, side] of Object.entries(sides)) {
      const cpu0 = process.cpuUsage()
      const b0 = brokerCpuUs()
      for (let w = 0; w < waves; w++) await Promise.all(Array.from({ length: 64 }, side.call))
      const cpu = process.cpuUsage(cpu0)
      const b1 = brokerCpuUs()
      const calls = waves * 64
      node[name] = [...(node[name] ?? []), (cpu.user + cpu.system) / calls]
      if (b0 !== undefined && b1 !== undefined)
        broker[name] = [...(broker[name] ?? []), (b1 - b0) / calls]
    }
  }
  const mid = (v: number[]): number => Math.round([...v].sort((a, b) => a - b)[1] as number)
  return Object.fromEntries(
    Object.keys(sides).map((name) => [
      name,
      {
        node_cpu_us_per_call: mid(node[name] ?? [0, 0, 0]),
        ...(broker[name] === undefined ? {} : { broker_cpu_us_per_call: mid(broker[name]) }),
      },
    ]),
  )
}

const wave =
  (call: Call): Call =>
  () =>
    Promise.all(Array.from({ length: 64 }, call))

function scale(figure: Figure, by: number): Figure {
  return { ...figure, ops_per_s: Math.round(figure.ops_per_s * by), concurrency: by }
}

/** p50/p99 of single calls, `concurrency` at a time, over `waves` waves. */
async function latencies(
  call: Call,
  waves: number,
  concurrency: number,
): Promise<{ p50_ms: number; p99_ms: number }> {
  const ms: number[] = []
  for (let w = 0; w < waves; w++) {
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        const t = performance.now()
        await call()
        ms.push(performance.now() - t)
      }),
    )
  }
  const round = (v: number): number => Math.round(v * 100) / 100
  return { p50_ms: round(percentile(ms, 50)), p99_ms: round(percentile(ms, 99)) }
}

/** The envelope cost per message: the cloudevents SDK vs a plain object + the package's check. */
async function envelopeCost(): Promise<void> {
  const sdk = (): unknown => {
    const e = new CloudEvent({
      source: 'node-a',
      type: 'core.mindbus.command',
      data: { action: 'echo', params: PAYLOAD },
    })
    e.validate()
    return JSON.parse(JSON.stringify(e))
  }
  const own = (): unknown => {
    const e = {
      specversion: '1.0',
      id: crypto.randomUUID(),
      source: 'node-a',
      type: 'core.mindbus.command',
      time: new Date().toISOString(),
      datacontenttype: 'application/json',
      data: { action: 'echo', params: PAYLOAD },
    }
    return readEnvelope(JSON.parse(JSON.stringify(e)))
  }
  const figures = await compare(
    { 'cloudevents SDK envelope': sdk, 'plain envelope + readEnvelope': own },
    { batch: 5_000, rounds: 5 },
  )
  for (const f of Object.values(figures))
    emit({ ...f, us_per_op: Math.round((1e6 / f.ops_per_s) * 100) / 100 })
}

/** Event fan-out: node C exports `fan.#`, nodes A and B import it; events/s until both hold all. */
async function fanOut(events: number): Promise<Figure> {
  const tag = `b${run}fan`
  const topology = {
    exchange: `${tag}.main`,
    deadLetterExchange: `${tag}.dlx`,
    deadLetterQueue: `${tag}.dead`,
    queuePrefix: tag,
  }
  const directory: NodeDirectory = { findNodes: () => [] }
  const nodes = ['c', 'a', 'b'].map((id) => {
    const bus = createEventBus({ logger: silentLogger })
    const mb = createMindBus({
      url: URL_,
      nodeId: `${tag}-${id}`,
      directory,
      topology,
      bus,
      logger: silentLogger,
      ...(id === 'c' ? { exportEvents: ['fan.#'] } : { importEvents: ['fan.#'] }),
    })
    return {
      id,
      bus,
      mb,
      services: createServiceRegistry({ remote: mb.transport, logger: silentLogger }),
    }
  })
  for (const n of nodes) await n.mb.start(n.services)
  let received = 0
  let done: () => void = () => undefined
  const all = new Promise<void>((resolve) => {
    done = resolve
  })
  for (const n of nodes.slice(1)) {
    n.bus.subscribe('fan.#', () => {
      if (++received === events * 2) done()
    })
  }
  const source = nodes[0] as (typeof nodes)[number]
  const started = performance.now()
  for (let i = 0; i < events; i++)
    await source.bus.publish('fan.kitchen.changed', { i }, { wait: false })
  await all
  const seconds = (performance.now() - started) / 1000
  for (const n of nodes) await n.mb.close()
  await dropTopology(
    topology,
    nodes.flatMap((n) => [
      `${tag}.node.${tag}-${n.id}`,
      `${tag}.ctl.${tag}-${n.id}`,
      `${tag}.evt.${tag}-${n.id}`,
    ]),
  )
  return {
    name: 'mindbus event fan-out to 2 nodes (events/s published)',
    ops_per_s: Math.round(events / seconds),
    samples: 1,
    deliveries_per_s: Math.round((events * 2) / seconds),
  }
}

/** MindBus at each priority against the baselines: [label, side, target], at c1 then c64. */
const AGAINST_BASELINES: ReadonlyArray<readonly [string, string, number]> = [
  ['raw amqplib', 'raw amqplib direct reply-to', 0.8],
  ['moleculer amqp tuned', 'moleculer amqp tuned', 1],
]

/** The other ratios, each at c1 and c64: [label, of, over, target?]. */
const RATIOS: ReadonlyArray<readonly [string, string, string, number?]> = [
  [
    'mindbus no priority / raw amqplib as the spec asks',
    'mindbus call no priority',
    'raw amqplib as the spec asks',
  ],
  [
    'raw amqplib as the spec asks / raw amqplib',
    'raw amqplib as the spec asks',
    'raw amqplib direct reply-to',
  ],
  [
    'mindbus p255 / raw amqplib as the spec asks p255',
    'mindbus call p255',
    'raw amqplib as the spec asks p255',
  ],
  [
    'raw amqplib as the spec asks p255 / raw amqplib',
    'raw amqplib as the spec asks p255',
    'raw amqplib direct reply-to',
  ],
  ['mindbus p255 / no priority', 'mindbus call p255', 'mindbus call no priority'],
  ['mindbus p10 / no priority', 'mindbus call p10', 'mindbus call no priority'],
  [
    'mindbus 1 channel / 16 channels',
    'mindbus call no priority 1 channel',
    'mindbus call no priority',
  ],
  [
    'mindbus transient / persistent commands',
    'mindbus call no priority transient commands',
    'mindbus call no priority',
  ],
  [
    'mindbus transient commands / raw amqplib',
    'mindbus call no priority transient commands',
    'raw amqplib direct reply-to',
    0.8,
  ],
  [
    'mindbus 64 channels / 16 channels',
    'mindbus call no priority 64 channels',
    'mindbus call no priority',
  ],
  ['rabbitmq-client / amqplib+acm', 'rabbitmq-client RPC', 'amqplib + amqp-connection-manager RPC'],
  [
    'rabbitmq-client as the spec asks / raw amqplib as the spec asks',
    'rabbitmq-client as the spec asks',
    'raw amqplib as the spec asks',
  ],
  [
    'mindbus no priority / rabbitmq-client as the spec asks',
    'mindbus call no priority',
    'rabbitmq-client as the spec asks',
  ],
]

export default async function bench(): Promise<void> {
  if (!(await reachable(URL_))) {
    process.stdout.write(
      `${JSON.stringify({ skipped: 'mindbus', reason: `RabbitMQ not reachable at ${URL_}` })}\n`,
    )
    return
  }
  await envelopeCost()
  emit(await fanOut(2_000))
  if (process.env.MINDBUS_BENCH_ONLY === 'fanout') return
  const sides = {
    'mindbus call p255': await pairAt(255),
    'mindbus call p10': await pairAt(10),
    'mindbus call no priority': await pairAt(0),
    'mindbus call no priority 1 channel': await pairAt(0, 1),
    'mindbus call no priority 64 channels': await pairAt(0, 64),
    'mindbus call no priority transient commands': await pairAt(0, 16, false),
    'raw amqplib direct reply-to': await rawAmqplib(),
    'raw amqplib as the spec asks': await rawAmqplibSpec(),
    'raw amqplib as the spec asks p255': await rawAmqplibSpec(255),
    'rabbitmq-client as the spec asks': await rabbitmqClientSpec(),
    'moleculer amqp tuned': await moleculerAmqp(),
    'rabbitmq-client RPC': await rabbitmqClient(),
    'amqplib + amqp-connection-manager RPC': await amqpConnectionManager(),
  }
  type Side = keyof typeof sides
  try {
    const c1 = await compare(
      Object.fromEntries(Object.entries(sides).map(([k, v]) => [`${k} c1`, v.call])),
      { batch: 200, rounds: 5, warmup: 1 },
    )
    for (const f of Object.values(c1)) emit({ ...f, concurrency: 1 })
    const c64 = await compare(
      Object.fromEntries(Object.entries(sides).map(([k, v]) => [`${k} c64`, wave(v.call)])),
      { batch: 20, rounds: 5, warmup: 1 },
    )
    const scaled: Record<string, Figure> = {}
    for (const [k, f] of Object.entries(c64)) {
      scaled[k] = scale(f, 64)
      emit(scaled[k] as Figure)
    }
    const latencySides: Side[] = [
      'mindbus call p255',
      'mindbus call no priority',
      'mindbus call no priority transient commands',
      'raw amqplib direct reply-to',
      'raw amqplib as the spec asks',
      'raw amqplib as the spec asks p255',
      'moleculer amqp tuned',
    ]
    const p99: Record<string, number> = {}
    for (const name of latencySides) {
      const side = sides[name]
      emit({
        name: `${name} c1 latency`,
        ops_per_s: 0,
        samples: 300,
        ...(await latencies(side.call, 300, 1)),
      })
      const l64 = await latencies(side.call, 30, 64)
      p99[name] = l64.p99_ms
      emit({ name: `${name} c64 latency`, ops_per_s: 0, samples: 30 * 64, ...l64 })
    }
    const cpu = await cpuPerCall(
      Object.fromEntries(
        (
          [
            'mindbus call p255',
            'mindbus call no priority',
            'raw amqplib direct reply-to',
            'raw amqplib as the spec asks',
            'raw amqplib as the spec asks p255',
            'rabbitmq-client as the spec asks',
            'moleculer amqp tuned',
          ] as Side[]
        ).map((n) => [n, sides[n]]),
      ),
      10,
    )
    for (const [name, c] of Object.entries(cpu))
      emit({ name: `${name} c64 cpu per call`, ops_per_s: 0, samples: 3, ...c })
    const at = (figures: Record<string, Figure>, name: Side, c: string): Figure =>
      figures[`${name} ${c}`] as Figure
    const scaledOrC1 = (c: 'c1' | 'c64'): Record<string, Figure> => (c === 'c1' ? c1 : scaled)
    for (const p of ['p255', 'p10', 'no priority'] as const) {
      for (const [over, side, target] of AGAINST_BASELINES) {
        for (const c of ['c1', 'c64'] as const) {
          const figures = scaledOrC1(c)
          ratio(
            `mindbus ${p} / ${over} ${c}`,
            at(figures, `mindbus call ${p}` as Side, c),
            at(figures, side as Side, c),
            target,
          )
        }
      }
    }
    for (const c of ['c1', 'c64'] as const) {
      const figures = scaledOrC1(c)
      for (const [label, of, over, target] of RATIOS) {
        ratio(`${label} ${c}`, at(figures, of as Side, c), at(figures, over as Side, c), target)
      }
    }
    for (const name of ['mindbus call p255', 'mindbus call no priority'] as const) {
      const value = p99[name] as number
      process.stdout.write(
        `${JSON.stringify({ check: `${name} p99 at c64 (ms)`, value, target: 12, met: value <= 12 })}\n`,
      )
    }
  } finally {
    for (const side of Object.values(sides)) await side.close().catch(() => undefined)
  }
}
