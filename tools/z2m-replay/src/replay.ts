import { readFile } from 'node:fs/promises'
import type { Socket } from 'node:net'
import { fileURLToPath } from 'node:url'
import { connect, type MqttClient } from 'mqtt'

/** One recorded message: a topic relative to the base topic, a payload, retain. */
export interface RecordedMessage {
  /** Topic after `<baseTopic>/`, e.g. `bridge/devices` or `living_room/ceiling`. */
  topic: string
  /** A string is published as it is; any other JSON value as JSON. */
  payload: unknown
  /** @defaultValue false */
  retain?: boolean
  /** Why the message is there (not published). */
  note?: string
}

/** The recording file (`recording.json`). */
export interface Recording {
  description: string
  /** Where the topics and payloads come from (Zigbee2MQTT's documentation pages). */
  sources: string[]
  /** Zigbee2MQTT's default base topic, `zigbee2mqtt`. */
  baseTopic: string
  /** The installation's retained state and a first state message of every device. */
  messages: RecordedMessage[]
  /** Named extra messages published on demand (`contact-open`, `contact-close`, …). */
  scenarios: Record<string, RecordedMessage[]>
}

/** The recording committed next to this tool. */
export const RECORDING_PATH: string = fileURLToPath(new URL('../recording.json', import.meta.url))

/** Options of {@link replay}. */
export interface ReplayOptions {
  /** @defaultValue 'mqtt://127.0.0.1:1883' */
  url?: string
  username?: string
  password?: string
  /** Publish under this base topic instead of the recording's. */
  baseTopic?: string
  /** The recording file. @defaultValue {@link RECORDING_PATH} */
  file?: string
  /** `all` (the installation), a scenario name, or `clear` (empty retained payloads). @defaultValue 'all' */
  what?: string
  /** Pause between messages, ms. @defaultValue 0 */
  intervalMs?: number
  /** MQTT version of the publishing client. @defaultValue 5 */
  protocolVersion?: 4 | 5
  /** How long to wait for the broker, ms. @defaultValue 5_000 */
  connectTimeoutMs?: number
  /** Told about each message published. */
  onPublish?: (topic: string, payload: string, retain: boolean) => void
}

/** Reads and checks a recording file. */
export async function loadRecording(file: string = RECORDING_PATH): Promise<Recording> {
  const recording = JSON.parse(await readFile(file, 'utf8')) as Recording
  if (
    typeof recording !== 'object' ||
    recording === null ||
    !Array.isArray(recording.messages) ||
    typeof recording.baseTopic !== 'string'
  ) {
    throw new Error(
      `${file} is not a recording: expected { baseTopic, messages: [...], scenarios }`,
    )
  }
  return recording
}

/** The messages `what` selects, with absolute topics and encoded payloads. */
export function select(
  recording: Recording,
  what: string,
  baseTopic: string = recording.baseTopic,
): Array<{ topic: string; payload: string; retain: boolean }> {
  const encode = (m: RecordedMessage) => ({
    topic: `${baseTopic}/${m.topic}`,
    payload: typeof m.payload === 'string' ? m.payload : JSON.stringify(m.payload),
    retain: m.retain === true,
  })
  if (what === 'all') return recording.messages.map(encode)
  if (what === 'clear') {
    const retained = new Set<string>()
    for (const m of [...recording.messages, ...Object.values(recording.scenarios ?? {}).flat()]) {
      if (m.retain === true) retained.add(`${baseTopic}/${m.topic}`)
    }
    return [...retained].map((topic) => ({ topic, payload: '', retain: true }))
  }
  const scenario = recording.scenarios?.[what]
  if (scenario === undefined) {
    const known = ['all', 'clear', ...Object.keys(recording.scenarios ?? {})]
    throw new Error(`No scenario "${what}" in the recording; use one of: ${known.join(', ')}`)
  }
  return scenario.map(encode)
}

/**
 * Connects, publishes the selected messages in order (QoS 1, so each is acknowledged by the
 * broker), disconnects. Resolves with the number of messages published.
 */
export async function replay(options: ReplayOptions = {}): Promise<number> {
  const recording = await loadRecording(options.file)
  const messages = select(recording, options.what ?? 'all', options.baseTopic)
  const client = await open(options)
  try {
    for (const m of messages) {
      await client.publishAsync(m.topic, m.payload, { qos: 1, retain: m.retain })
      options.onPublish?.(m.topic, m.payload, m.retain)
      if ((options.intervalMs ?? 0) > 0) {
        await new Promise((resolve) => setTimeout(resolve, options.intervalMs))
      }
    }
  } finally {
    await client.endAsync()
  }
  return messages.length
}

async function open(options: ReplayOptions): Promise<MqttClient> {
  const url = options.url ?? 'mqtt://127.0.0.1:1883'
  const timeoutMs = options.connectTimeoutMs ?? 5_000
  const client = connect(url, {
    protocolVersion: options.protocolVersion ?? 5,
    reconnectPeriod: 0,
    connectTimeout: timeoutMs,
    ...(options.username === undefined ? {} : { username: options.username }),
    ...(options.password === undefined ? {} : { password: options.password }),
  })
  return new Promise<MqttClient>((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs)
    const fail = (error: Error): void => {
      clearTimeout(timer)
      client.end(true)
      reject(new Error(`Cannot connect to the MQTT broker at ${url}: ${error.message}`))
    }
    client.once('error', fail)
    client.once('close', () => fail(new Error('the connection was closed')))
    client.once('connect', () => {
      clearTimeout(timer)
      client.removeAllListeners('error')
      client.removeAllListeners('close')
      client.on('error', () => undefined)
      ;(client.stream as Partial<Socket>).setNoDelay?.(true)
      resolve(client)
    })
  })
}
