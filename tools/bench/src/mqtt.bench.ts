/**
 * MQTT benchmark (issue 5 §7): a service call round trip through the bridge
 * (`<prefix>/call/bench.echo`, MQTT 5 response topic + correlation data, the kernel's
 * registry with params validation) against a raw mqtt.js request/response through the same
 * broker (a plain responder client that parses the JSON and answers on the response topic).
 * Concurrency 1 (batches alternated by `compare`, then call by call) and 64, TCP_NODELAY on
 * every client socket. Target: bridge ≥ 0.7× raw. The broker's own sockets need
 * `set_tcp_nodelay true` in mosquitto.conf, or concurrency 64 stalls ~40 ms per wave on both
 * sides alike. `CORE_MQTT_URL` picks the broker. Skips with a JSON line when it is down.
 */
import { randomBytes } from 'node:crypto'
import { createRequire } from 'node:module'
import { connect as tcpConnect } from 'node:net'
import { pathToFileURL } from 'node:url'
import { silentLogger } from '@core/contracts'
import { createKernel } from '@core/kernel'
import { createMqttBridge } from '@core/mqtt'
import { compare, emit, type Figure, percentile, ratio } from './measure.js'

const URL_ = process.env.CORE_MQTT_URL ?? 'mqtt://127.0.0.1:1883'
const TARGET = 0.7

/** The few mqtt.js calls used here (mqtt is a dependency of @core/mqtt, resolved from there). */
interface Packet {
  properties?: { responseTopic?: string; correlationData?: Buffer }
}
interface Client {
  stream: { setNoDelay?: (on: boolean) => void }
  on(event: 'message', handler: (topic: string, payload: Buffer, packet: Packet) => void): void
  once(event: 'connect' | 'error', handler: (arg: unknown) => void): void
  subscribeAsync(filter: string, options: { qos: 0 | 1 | 2 }): Promise<unknown>
  publish(
    topic: string,
    payload: string,
    options: { qos: 0 | 1 | 2; properties?: Packet['properties'] },
  ): void
  endAsync(force?: boolean): Promise<void>
}
type Connect = (url: string, options: Record<string, unknown>) => Client

async function loadMqtt(): Promise<Connect> {
  const require = createRequire(new URL('../../../packages/mqtt/package.json', import.meta.url))
  const mod = (await import(pathToFileURL(require.resolve('mqtt')).href)) as { connect: Connect }
  return mod.connect
}

function reachable(url: string): Promise<boolean> {
  const u = new URL(url)
  return new Promise((resolve) => {
    const socket = tcpConnect({ host: u.hostname, port: Number(u.port || 1883) })
    const done = (ok: boolean): void => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(1_000, () => done(false))
    socket.once('connect', () => done(true))
    socket.once('error', () => done(false))
  })
}

async function client(connect: Connect): Promise<Client> {
  const c = connect(URL_, { protocolVersion: 5, reconnectPeriod: 0 })
  await new Promise<void>((resolve, reject) => {
    c.once('connect', () => {
      c.stream.setNoDelay?.(true)
      resolve()
    })
    c.once('error', reject)
  })
  return c
}

/** A caller: publishes requests with a response topic and correlation data, awaits replies. */
async function caller(connect: Connect, requestTopic: string, replyTopic: string) {
  const c = await client(connect)
  const pending = new Map<string, (payload: Buffer) => void>()
  c.on('message', (_topic, payload, packet) => {
    const id = packet.properties?.correlationData?.toString()
    const resolve = id === undefined ? undefined : pending.get(id)
    if (resolve === undefined) return
    pending.delete(id as string)
    resolve(payload)
  })
  await c.subscribeAsync(replyTopic, { qos: 0 })
  let n = 0
  const body = JSON.stringify({ n: 1, text: 'hello' })
  const call = (): Promise<Buffer> =>
    new Promise<Buffer>((resolve) => {
      const id = String(n++)
      pending.set(id, resolve)
      c.publish(requestTopic, body, {
        qos: 0,
        properties: { responseTopic: replyTopic, correlationData: Buffer.from(id) },
      })
    })
  return { client: c, call }
}

export default async function mqttBench(): Promise<void> {
  if (!(await reachable(URL_))) {
    process.stdout.write(
      `${JSON.stringify({ bench: 'mqtt', skipped: `broker not reachable at ${URL_}; start it with: mosquitto -d -c /etc/mosquitto/mosquitto.conf` })}\n`,
    )
    return
  }
  const connect = await loadMqtt()
  const prefix = `bench-${randomBytes(4).toString('hex')}`

  // ── bridge side: kernel + bench.echo + bridge ─────────────────────────────────────────
  const kernel = createKernel({
    logger: silentLogger,
    plugins: [
      {
        manifest: { name: 'bench', coreApi: '^1.0.0' },
        plugin: {
          setup(ctx) {
            ctx.services.register('bench.echo', (params) => params, {
              params: {
                type: 'object',
                properties: { n: { type: 'integer' }, text: { type: 'string' } },
                required: ['n'],
              },
            })
          },
        },
      },
    ],
  })
  // Calls are off by default; the broker here is the test's own, so trust it (no token hop).
  const bridge = createMqttBridge(kernel, {
    url: URL_,
    prefix,
    state: false,
    calls: ['bench.*'],
    trustBroker: true,
    logger: silentLogger,
  })
  await kernel.start()
  await bridge.start()
  const viaBridge = await caller(connect, `${prefix}/call/bench.echo`, `${prefix}-reply/bridge`)

  // ── raw side: a responder client doing the same JSON work ────────────────────────────
  const responder = await client(connect)
  responder.on('message', (_topic, payload, packet) => {
    const responseTopic = packet.properties?.responseTopic
    if (responseTopic === undefined) return
    const params = JSON.parse(payload.toString('utf8')) as unknown
    responder.publish(responseTopic, JSON.stringify({ result: params }), {
      qos: 0,
      properties: { correlationData: packet.properties?.correlationData as Buffer },
    })
  })
  await responder.subscribeAsync(`${prefix}-raw/req`, { qos: 0 })
  const viaRaw = await caller(connect, `${prefix}-raw/req`, `${prefix}-reply/raw`)

  try {
    // Concurrency 1: one round trip at a time.
    const c1 = await compare(
      { 'mqtt bridge call c1': viaBridge.call, 'raw mqtt.js request/response c1': viaRaw.call },
      { batch: 200, rounds: 21, warmup: 3 },
    )
    const b1 = c1['mqtt bridge call c1'] as Figure
    const r1 = c1['raw mqtt.js request/response c1'] as Figure
    emit(b1)
    emit(r1)
    ratio('mqtt call c1: bridge / raw', b1, r1, TARGET)

    // Concurrency 1 again, alternating sides call by call (the most drift-proof comparison on
    // a shared machine): rate = 1 / mean round trip, with p50 and p99.
    const lat: Record<'bridge' | 'raw', number[]> = { bridge: [], raw: [] }
    for (let i = 0; i < 4_000; i++) {
      for (const [side, call] of [
        ['bridge', viaBridge.call],
        ['raw', viaRaw.call],
      ] as const) {
        const t0 = process.hrtime.bigint()
        await call()
        lat[side].push(Number(process.hrtime.bigint() - t0) / 1e6)
      }
    }
    const interleaved = (name: string, ms: number[]): Figure => ({
      name,
      ops_per_s: Math.round(1000 / (ms.reduce((a, b) => a + b, 0) / ms.length)),
      samples: ms.length,
      p50_ms: round(percentile(ms, 50)),
      p99_ms: round(percentile(ms, 99)),
    })
    const bi = interleaved('mqtt bridge call c1 (call-by-call)', lat.bridge)
    const ri = interleaved('raw mqtt.js request/response c1 (call-by-call)', lat.raw)
    emit(bi)
    emit(ri)
    ratio('mqtt call c1 call-by-call: bridge / raw', bi, ri, TARGET)

    // Concurrency 64: 64 calls in flight, each batch item is one wave of 64.
    const wave = (call: () => Promise<Buffer>) => () =>
      Promise.all(Array.from({ length: 64 }, call))
    const c64 = await compare(
      {
        'mqtt bridge call c64': wave(viaBridge.call),
        'raw mqtt.js request/response c64': wave(viaRaw.call),
      },
      { batch: 20, rounds: 15, warmup: 2 },
    )
    const b64 = scale(c64['mqtt bridge call c64'] as Figure, 64)
    const r64 = scale(c64['raw mqtt.js request/response c64'] as Figure, 64)
    emit(b64)
    emit(r64)
    ratio('mqtt call c64: bridge / raw', b64, r64, TARGET)
    const stats = bridge.stats()
    process.stdout.write(
      `${JSON.stringify({ bench: 'mqtt', bridge_calls: stats.calls, bridge_call_errors: stats.callErrors, dropped: stats.dropped })}\n`,
    )
  } finally {
    await viaBridge.client.endAsync(true)
    await viaRaw.client.endAsync(true)
    await responder.endAsync(true)
    await bridge.stop()
    await kernel.stop()
  }
}

function scale(figure: Figure, by: number): Figure {
  return { ...figure, ops_per_s: Math.round(figure.ops_per_s * by), concurrency: by }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000
}
