/**
 * Test helpers for the real Mosquitto broker: reachability (fail under CI, skip locally),
 * raw mqtt.js clients for the other side, and unique topic prefixes.
 */
import { randomBytes } from 'node:crypto'
import type { Socket } from 'node:net'
import type { Logger } from '@core/contracts'
import { probeServer } from '@core/contracts/testing'
import { connect, type IClientOptions, type IPublishPacket, type MqttClient } from 'mqtt'

export const BROKER_URL: string = process.env.CORE_MQTT_URL ?? 'mqtt://127.0.0.1:1883'
const START_HINT = 'start it with: mosquitto -d -c /etc/mosquitto/mosquitto.conf'

const broker = await probeServer({
  name: 'Mosquitto',
  url: BROKER_URL,
  hint: START_HINT,
  tag: '@core/mqtt',
})

/** True when the broker answers on TCP. */
export const brokerUp: boolean = broker.reachable

/** True when the broker suite must be skipped (down, and not under CI). Warns once. */
export const skipBroker: boolean = broker.skip

/** For `beforeAll`: under CI an unreachable broker fails the suite. */
export function requireBroker(): void {
  broker.require()
}

/** A random first topic level, so that parallel runs never share topics. */
export function uniquePrefix(name = 't'): string {
  return `${name}-${randomBytes(5).toString('hex')}`
}

export interface Received {
  topic: string
  payload: Buffer
  text: string
  packet: IPublishPacket
}

export interface RawClient {
  client: MqttClient
  /** Every message received, oldest first. */
  messages: Received[]
  /** The first not-yet-returned message matching `where` (received already or to come). */
  next(where: (m: Received) => boolean, timeoutMs?: number): Promise<Received>
  subscribe(filter: string | string[], qos?: 0 | 1 | 2): Promise<void>
  publish(
    topic: string,
    payload: string | Buffer,
    options?: Parameters<MqttClient['publishAsync']>[2],
  ): Promise<void>
  close(): Promise<void>
}

/** A plain mqtt.js client (MQTT 5 or 3.1.1) with TCP_NODELAY and a message recorder. */
export async function rawClient(
  protocolVersion: 4 | 5,
  options: IClientOptions = {},
): Promise<RawClient> {
  const client = connect(BROKER_URL, { protocolVersion, reconnectPeriod: 0, ...options })
  client.on('error', () => undefined)
  const messages: Received[] = []
  const taken = new Set<Received>()
  const waiters = new Set<() => void>()
  client.on('message', (topic, payload, packet) => {
    messages.push({ topic, payload, text: payload.toString('utf8'), packet })
    for (const w of [...waiters]) w()
  })
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => {
      ;(client.stream as Partial<Socket>).setNoDelay?.(true)
      resolve()
    })
    client.once('error', reject)
  })
  return {
    client,
    messages,
    next: (where, timeoutMs = 3_000) =>
      new Promise<Received>((resolve, reject) => {
        const look = (): boolean => {
          const found = messages.find((m) => !taken.has(m) && where(m))
          if (found === undefined) return false
          taken.add(found)
          waiters.delete(check)
          clearTimeout(timer)
          resolve(found)
          return true
        }
        const check = (): void => {
          look()
        }
        const timer = setTimeout(() => {
          waiters.delete(check)
          reject(
            new Error(
              `no matching MQTT message within ${timeoutMs} ms; received: ${messages
                .map((m) => `${m.topic}=${m.text.slice(0, 80)}`)
                .join(' | ')}`,
            ),
          )
        }, timeoutMs)
        if (!look()) waiters.add(check)
      }),
    subscribe: async (filter, qos = 0) => {
      await client.subscribeAsync(filter, { qos })
    },
    publish: async (topic, payload, opts = {}) => {
      await client.publishAsync(topic, payload, opts)
    },
    close: async () => {
      await client.endAsync(true)
    },
  }
}

export interface CapturedLog {
  level: 'debug' | 'info' | 'warn' | 'error'
  msg: string
  obj?: Record<string, unknown>
}

/** A logger that keeps what it is given. */
export function capturingLogger(lines: CapturedLog[] = []): Logger & { lines: CapturedLog[] } {
  const at =
    (level: CapturedLog['level']) =>
    (a: string | Record<string, unknown>, b?: string): void => {
      if (typeof a === 'string') lines.push({ level, msg: a })
      else lines.push({ level, msg: b ?? '', obj: a })
    }
  const logger = {
    lines,
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: () => logger,
  }
  return logger as Logger & { lines: CapturedLog[] }
}
