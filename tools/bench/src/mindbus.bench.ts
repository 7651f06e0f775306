/**
 * MindBus benchmark (issue 11 §4), one run against the same RabbitMQ with the same payload:
 *
 * - remote call through two MindBus nodes (`services.call` → `cmd.bench.<node>` → the serving
 *   node's `services.serve` → direct reply-to), on command queues declared with
 *   `x-max-priority` 255 (the spec's), 10 and none;
 * - raw amqplib direct reply-to RPC (persistent messages, a durable queue without priority,
 *   one consumer channel with prefetch 64, no publisher confirms), the issue's baseline;
 * - raw amqplib doing what the spec asks of MindBus (publisher confirms, topic exchange,
 *   `expiration`, 16 consumer channels of prefetch 1): the broker's share of the gap;
 * - Moleculer 0.14 with its AMQP transporter tuned as MEASURED.md says (TCP_NODELAY, prefetch
 *   100), one broker calling an action of the other;
 * - the two library candidates doing the raw RPC: `rabbitmq-client` (its RPCClient and
 *   Consumer) and `amqplib` + `amqp-connection-manager` (ChannelWrappers);
 * - the consumer-channel count (prefetch 1 each): 1, 16 (default) and 64 channels;
 * - commands sent transient (`persistentCommands: false`) against persistent (the spec's);
 * - event fan-out: one node exporting, two importing (events/s until both hold every event);
 * - the cost of the `cloudevents` SDK (construct + validate + serialise an envelope) against
 *   a plain object read by the package's `readEnvelope`, per message, next to a round trip;
 * - CPU per call at concurrency 64: this process (both nodes) and the broker (`beam.smp`, read
 *   from /proc when it runs on this machine), in µs: robust where wall-clock figures drift.
 *
 * Concurrency 1 (batches alternated round by round) and 64 (waves of 64 calls), plus p50/p99
 * of single calls at c1 and inside c64 waves. TCP_NODELAY on every connection. `CORE_AMQP_URL`
 * picks the broker; skips with a JSON line when it is down. Targets: MindBus ≥ 0.8× raw
 * amqplib at both concurrencies, ≥ 1× tuned Moleculer, p99 ≤ 12 ms at c64.
 */
import { randomBytes } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { connect as tcpConnect } from 'node:net'
import { silentLogger } from '@core/contracts'
import { createEventBus } from '@core/event-bus'
import { createMindBus, type MindBus, type NodeDirectory } from '@core/mindbus'
import { createServiceRegistry, type ServiceRegistry } from '@core/service-registry'
import amqpcm from 'amqp-connection-manager'
import amqplib from 'amqplib'
import { CloudEvent } from 'cloudevents'
import { ServiceBroker } from 'moleculer'
import { Connection as RabbitConnection } from 'rabbitmq-client'
// The package's own envelope check (internal; measured here as the SDK's alternative).
import { readEnvelope } from '../../../packages/mindbus/src/envelope.js'
import { compare, emit, type Figure, percentile, ratio } from './measure.js'

const URL_ = process.env.CORE_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672'
const PAYLOAD = { x: 1, y: 2, text: 'x'.repeat(100) }
const run = randomBytes(3).toString('hex')

type Call = () => Promise<unknown>

function reachable(url: string): Promise<boolean> {
  const u = new URL(url)
  return new Promise((resolve) => {
    const socket = tcpConnect({ host: u.hostname, port: Number(u.port || 5672) })
    const done = (ok: boolean): void => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(1_000, () => done(false))
    socket.once('connect', () => done(true))
    socket.once('error', () => done(false))
  })
}

/** Two MindBus nodes on their own topology: `caller` calls `bench.echo` served by `server`. */
async function mindbusPair(
  maxPriority: number,
  consumerChannels = 16,
  persistentCommands = true,
): Promise<{ call: Call; close: () => Promise<void> }> {
  const tag = `b${run}p${maxPriority}c${consumerChannels}${persistentCommands ? '' : 't'}`
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
      maxPriority,
      consumerChannels,
      persistentCommands,
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

async function dropTopology(
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

/** Raw amqplib: a durable queue, persistent requests, direct reply-to, prefetch 64. */
async function rawAmqplib(): Promise<{ call: Call; close: () => Promise<void> }> {
  const queue = `b${run}.raw`
  const conn = await amqplib.connect(URL_, { noDelay: true })
  const sch = await conn.createChannel()
  await sch.assertQueue(queue, { durable: true })
  await sch.prefetch(64)
  await sch.consume(queue, (msg) => {
    if (msg === null) return
    const body = JSON.parse(msg.content.toString()) as unknown
    sch.sendToQueue(
      msg.properties.replyTo as string,
      Buffer.from(JSON.stringify({ ok: true, result: body })),
      {
        correlationId: msg.properties.correlationId as string,
      },
    )
    sch.ack(msg)
  })
  const cch = await conn.createChannel()
  const pending = new Map<string, (v: unknown) => void>()
  await cch.consume(
    'amq.rabbitmq.reply-to',
    (msg) => {
      if (msg === null) return
      const id = msg.properties.correlationId as string
      pending.get(id)?.(JSON.parse(msg.content.toString()))
      pending.delete(id)
    },
    { noAck: true },
  )
  let n = 0
  return {
    call: () =>
      new Promise((resolve) => {
        const id = String(++n)
        pending.set(id, resolve)
        cch.sendToQueue(queue, Buffer.from(JSON.stringify(PAYLOAD)), {
          correlationId: id,
          replyTo: 'amq.rabbitmq.reply-to',
          persistent: true,
          contentType: 'application/json',
        })
      }),
    close: async () => {
      await sch.deleteQueue(queue)
      await conn.close()
    },
  }
}

/** amqplib + amqp-connection-manager: the same RPC through ChannelWrappers (reconnecting). */
async function amqpConnectionManager(): Promise<{ call: Call; close: () => Promise<void> }> {
  const queue = `b${run}.acm`
  const conn = amqpcm.connect([URL_], { connectionOptions: { noDelay: true } })
  const server = conn.createChannel({
    json: false,
    setup: async (ch: amqplib.ConfirmChannel) => {
      await ch.assertQueue(queue, { durable: true })
      await ch.prefetch(64)
      await ch.consume(queue, (msg) => {
        if (msg === null) return
        const body = JSON.parse(msg.content.toString()) as unknown
        ch.sendToQueue(
          msg.properties.replyTo as string,
          Buffer.from(JSON.stringify({ ok: true, result: body })),
          {
            correlationId: msg.properties.correlationId as string,
          },
        )
        ch.ack(msg)
      })
    },
  })
  const pending = new Map<string, (v: unknown) => void>()
  const client = conn.createChannel({
    confirm: false,
    setup: async (ch: amqplib.Channel) => {
      await ch.consume(
        'amq.rabbitmq.reply-to',
        (msg) => {
          if (msg === null) return
          const id = msg.properties.correlationId as string
          pending.get(id)?.(JSON.parse(msg.content.toString()))
          pending.delete(id)
        },
        { noAck: true },
      )
    },
  })
  await server.waitForConnect()
  await client.waitForConnect()
  let n = 0
  return {
    call: () =>
      new Promise((resolve, reject) => {
        const id = String(++n)
        pending.set(id, resolve)
        client
          .sendToQueue(queue, Buffer.from(JSON.stringify(PAYLOAD)), {
            correlationId: id,
            replyTo: 'amq.rabbitmq.reply-to',
            persistent: true,
            contentType: 'application/json',
          })
          .catch(reject)
      }),
    close: async () => {
      await server.close()
      await client.close()
      const raw = await amqplib.connect(URL_)
      const ch = await raw.createChannel()
      await ch.deleteQueue(queue)
      await raw.close()
      await conn.close()
    },
  }
}

/** rabbitmq-client: its Consumer (prefetch 64) answering with `reply`, its RPCClient calling. */
async function rabbitmqClient(): Promise<{ call: Call; close: () => Promise<void> }> {
  const queue = `b${run}.rc`
  const conn = new RabbitConnection({ url: URL_, noDelay: true })
  const server = conn.createConsumer(
    { queue, queueOptions: { durable: true }, qos: { prefetchCount: 64 }, concurrency: 64 },
    async (msg, reply) => {
      await reply({ ok: true, result: msg.body })
    },
  )
  await new Promise<void>((resolve) => server.once('ready', () => resolve()))
  const rpc = conn.createRPCClient({ confirm: false })
  return {
    call: () => rpc.send({ routingKey: queue, durable: true }, PAYLOAD),
    close: async () => {
      await rpc.close()
      await server.close()
      await conn.queueDelete(queue)
      await conn.close()
    },
  }
}

/**
 * Raw amqplib doing what the spec asks of MindBus: a confirm channel publishing persistent
 * commands with `expiration` through a topic exchange, 16 consumer channels of prefetch 1.
 */
async function rawAmqplibSpec(): Promise<{ call: Call; close: () => Promise<void> }> {
  const queue = `b${run}.rawspec`
  const exchange = `b${run}.rawspec.x`
  const conn = await amqplib.connect(URL_, { noDelay: true })
  const setup = await conn.createChannel()
  await setup.assertExchange(exchange, 'topic', { durable: true })
  await setup.assertQueue(queue, { durable: true })
  await setup.bindQueue(queue, exchange, 'cmd.bench.*')
  for (let i = 0; i < 16; i++) {
    const sch = await conn.createChannel()
    await sch.prefetch(1)
    await sch.consume(queue, (msg) => {
      if (msg === null) return
      const body = JSON.parse(msg.content.toString()) as unknown
      sch.sendToQueue(
        msg.properties.replyTo as string,
        Buffer.from(JSON.stringify({ ok: true, result: body })),
        { correlationId: msg.properties.correlationId as string },
      )
      sch.ack(msg)
    })
  }
  const cch = await conn.createConfirmChannel()
  const pending = new Map<string, (v: unknown) => void>()
  await cch.consume(
    'amq.rabbitmq.reply-to',
    (msg) => {
      if (msg === null) return
      const id = msg.properties.correlationId as string
      pending.get(id)?.(JSON.parse(msg.content.toString()))
      pending.delete(id)
    },
    { noAck: true },
  )
  let n = 0
  return {
    call: () =>
      new Promise((resolve) => {
        const id = String(++n)
        pending.set(id, resolve)
        cch.publish(exchange, 'cmd.bench.node', Buffer.from(JSON.stringify(PAYLOAD)), {
          correlationId: id,
          replyTo: 'amq.rabbitmq.reply-to',
          persistent: true,
          expiration: '30000',
          contentType: 'application/json',
        })
      }),
    close: async () => {
      await setup.deleteQueue(queue)
      await setup.deleteExchange(exchange)
      await conn.close()
    },
  }
}

/** Moleculer 0.14, AMQP transporter tuned (TCP_NODELAY, prefetch 100): node A calls B's action. */
async function moleculerAmqp(): Promise<{ call: Call; close: () => Promise<void> }> {
  const transporter = {
    type: 'AMQP',
    options: { url: URL_, socketOptions: { noDelay: true }, prefetch: 100 },
  }
  const namespace = `b${run}`
  const server = new ServiceBroker({
    nodeID: `${namespace}-b`,
    namespace,
    transporter,
    logger: false,
  })
  server.createService({ name: 'bench', actions: { echo: (ctx) => ctx.params } })
  const caller = new ServiceBroker({
    nodeID: `${namespace}-a`,
    namespace,
    transporter,
    logger: false,
  })
  await server.start()
  await caller.start()
  await caller.waitForServices('bench', 10_000)
  return {
    call: () => caller.call('bench.echo', PAYLOAD),
    close: async () => {
      await caller.stop()
      await server.stop()
    },
  }
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
    'mindbus call p255': await mindbusPair(255),
    'mindbus call p10': await mindbusPair(10),
    'mindbus call no priority': await mindbusPair(0),
    'mindbus call no priority 1 channel': await mindbusPair(0, 1),
    'mindbus call no priority 64 channels': await mindbusPair(0, 64),
    'mindbus call no priority transient commands': await mindbusPair(0, 16, false),
    'raw amqplib direct reply-to': await rawAmqplib(),
    'raw amqplib as the spec asks': await rawAmqplibSpec(),
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
    for (const p of ['p255', 'p10', 'no priority'] as const) {
      const mb = `mindbus call ${p}` as Side
      ratio(
        `mindbus ${p} / raw amqplib c1`,
        at(c1, mb, 'c1'),
        at(c1, 'raw amqplib direct reply-to', 'c1'),
        0.8,
      )
      ratio(
        `mindbus ${p} / raw amqplib c64`,
        at(scaled, mb, 'c64'),
        at(scaled, 'raw amqplib direct reply-to', 'c64'),
        0.8,
      )
      ratio(
        `mindbus ${p} / moleculer amqp tuned c1`,
        at(c1, mb, 'c1'),
        at(c1, 'moleculer amqp tuned', 'c1'),
        1,
      )
      ratio(
        `mindbus ${p} / moleculer amqp tuned c64`,
        at(scaled, mb, 'c64'),
        at(scaled, 'moleculer amqp tuned', 'c64'),
        1,
      )
    }
    for (const c of ['c1', 'c64'] as const) {
      const figures = c === 'c1' ? c1 : scaled
      ratio(
        `mindbus no priority / raw amqplib as the spec asks ${c}`,
        at(figures, 'mindbus call no priority', c),
        at(figures, 'raw amqplib as the spec asks', c),
      )
      ratio(
        `raw amqplib as the spec asks / raw amqplib ${c}`,
        at(figures, 'raw amqplib as the spec asks', c),
        at(figures, 'raw amqplib direct reply-to', c),
      )
      ratio(
        `mindbus p255 / no priority ${c}`,
        at(figures, 'mindbus call p255', c),
        at(figures, 'mindbus call no priority', c),
      )
      ratio(
        `mindbus p10 / no priority ${c}`,
        at(figures, 'mindbus call p10', c),
        at(figures, 'mindbus call no priority', c),
      )
      ratio(
        `mindbus 1 channel / 16 channels ${c}`,
        at(figures, 'mindbus call no priority 1 channel', c),
        at(figures, 'mindbus call no priority', c),
      )
      ratio(
        `mindbus transient / persistent commands ${c}`,
        at(figures, 'mindbus call no priority transient commands', c),
        at(figures, 'mindbus call no priority', c),
      )
      ratio(
        `mindbus transient commands / raw amqplib ${c}`,
        at(figures, 'mindbus call no priority transient commands', c),
        at(figures, 'raw amqplib direct reply-to', c),
        0.8,
      )
      ratio(
        `mindbus 64 channels / 16 channels ${c}`,
        at(figures, 'mindbus call no priority 64 channels', c),
        at(figures, 'mindbus call no priority', c),
      )
      ratio(
        `rabbitmq-client / amqplib+acm ${c}`,
        at(figures, 'rabbitmq-client RPC', c),
        at(figures, 'amqplib + amqp-connection-manager RPC', c),
      )
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
