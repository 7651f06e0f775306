import { randomBytes } from 'node:crypto'
import {
  assertMqttTopic,
  assertPattern,
  CoreError,
  type Logger,
  rateLimited,
} from '@core/contracts'
import { createTopicMatcher, type TopicMatcher } from '@core/event-bus'
import type { Kernel } from '@core/kernel'
import { type CallServer, createCallServer } from './call-server.js'
import { type Connection, openConnection, redact, type SendOptions } from './connection.js'
import { createMqttMetrics } from './metrics.js'
import { type Mirror, startMirror } from './mirror.js'
import { type PluginServices, registerPluginServices } from './plugin-services.js'
import { refuseUnsignedCall } from './signed-call.js'
import type {
  AuthorizeMqttCall,
  Counters,
  CreateMqttBridgeOptions,
  MqttBridge,
  MqttBridgeStats,
  MqttCallMode,
} from './types.js'

/** The broker a bridge connects to when no `url` is given. @public */
export const DEFAULT_MQTT_URL = 'mqtt://127.0.0.1:1883'

/** The topic prefix of a bridge when no `prefix` is given. @public */
export const DEFAULT_MQTT_PREFIX = 'core'

/** Inbound messages in progress at once when no `maxInFlight` is given. @public */
export const DEFAULT_MQTT_MAX_IN_FLIGHT = 256

/** Largest MQTT packet taken when no `maxPacketBytes` is given, bytes (16 MiB). @public */
export const DEFAULT_MQTT_MAX_PACKET_BYTES = 16_777_216

/**
 * Bridges a kernel to an MQTT broker (mqtt.js; MQTT 5, serving 3.1.1 clients too).
 *
 * For plugins (registered in the kernel's service registry at once, usable before `start()`):
 * - `mqtt.publish({ topic, payload?, qos?, retain? })`: a string payload is sent as text, any
 *   other JSON value as JSON. While the broker is not connected the call is refused with
 *   `E_UNAVAILABLE` and nothing is queued (a bounded queue would deliver stale commands late;
 *   the caller knows at once and decides). Topics under `<prefix>/` are the bridge's own
 *   (`E_FORBIDDEN`).
 * - `mqtt.subscribe({ filter, qos? })` → `{ pattern }`: every message matching a held filter is
 *   published on the bus as `mqtt.message.<words>` with data `{ topic, payload, retain, qos }`
 *   (payload parsed as JSON when it parses, else text). Each MQTT level becomes one word,
 *   percent-encoding every character outside `[A-Za-z0-9_-]` (`living room` → `living%20room`,
 *   the empty level → `%`); `pattern` is the filter mapped the same way (`+` → `*`). Filters
 *   are held per calling plugin and survive reconnections; they are released by
 *   `mqtt.unsubscribe({ filter })`, or when the plugin is unloaded or fails.
 * - `mqtt.status()`: connection, counters, filters.
 *
 * The kernel on MQTT:
 * - `<prefix>/status`: `online` (retained) on each connection; `offline` (retained) as the last
 *   will and on `stop()`.
 * - `<prefix>/events/<levels>`: bus events matching `events` patterns, as JSON CloudEvents.
 * - `<prefix>/state/<namespace>/<key levels>`: each mirrored state key's `StateEntry` as JSON,
 *   retained, QoS 1; an empty retained payload when it is deleted or expires. Re-published in
 *   full after every (re)connection.
 * - `<prefix>/call/<service>` (only with `calls` on; off by default): service calls. MQTT 5:
 *   params as payload, reply on the response topic with the correlation data; MQTT 3.1.1:
 *   `{ params, replyTo, correlationId, authorization }`, reply on `replyTo` with
 *   `correlationId` in the body. Replies are `{ result }` or `{ error: <CoreError JSON> }`
 *   (unknown service: `E_SERVICE_NOT_FOUND`). Each call carries a bearer token (MQTT 5 user
 *   property `authorization: Bearer <token>`, or the body field `authorization` with the same
 *   text) checked by `authorizeCall` (`E_UNAUTHENTICATED`, `E_FORBIDDEN` replies), unless
 *   `trustBroker` is set.
 *
 * Bad input never crashes the bridge: a call whose payload is not JSON gets an `E_VALIDATION`
 * reply when it has a response topic, else it is logged and counted (`stats().rejected`).
 * Repeated warnings (refused calls, failed calls without a reply topic, undeliverable messages)
 * go through `rateLimited` from `@core/contracts`: 10 lines per kind and minute, then a
 * summary. Inbound work is bounded: at `maxInFlight` messages in progress the bridge stops
 * reading from the socket until one settles, and with MQTT 5 the broker sends no packet larger
 * than `maxPacketBytes` (16 MiB by default).
 *
 * Connection: reconnects with a bounded exponential backoff (`reconnect.minDelayMs` doubling up
 * to `maxDelayMs`, ±20 % jitter), TCP_NODELAY on every socket, clean sessions (the bridge
 * re-subscribes after each CONNACK).
 *
 * @param kernel - The kernel whose registry, bus and state are bridged.
 * @param options - See {@link CreateMqttBridgeOptions}; all optional.
 * @returns The bridge, not yet connected: call `start()`.
 * @throws {@link @core/contracts!CoreError} `E_VALIDATION` for a malformed option (URL, prefix, pattern, delay,
 *   `maxInFlight`, `maxPacketBytes`), or `calls` on with neither `authorizeCall` nor
 *   `trustBroker` (or both).
 * @throws {@link @core/contracts!CoreError} `E_CONFLICT` when `mqtt.*` services are registered already (a
 *   second bridge on one kernel).
 * @see MQTT 5.0 (OASIS) §3.3.2.3.5 Response Topic, §3.3.2.3.6 Correlation Data, §3.1.2.5 Will,
 *   §3.1.2.11.4 Maximum Packet Size;
 *   MQTT 3.1.1; CloudEvents 1.0 JSON format; RFC 3986 §2.1 percent-encoding
 * @example
 * ```ts
 * const kernel = createKernel({ pluginDirs: ['./plugins'] })
 * const bridge = createMqttBridge(kernel, {
 *   url: 'mqtt://127.0.0.1:1883',
 *   events: ['devices.#'],
 *   calls: ['lights.*'],
 *   authorizeCall: async (token) => {
 *     if (token !== process.env.LIGHTS_TOKEN) throw new CoreError('E_UNAUTHENTICATED', 'Bad token')
 *     return { caller: 'mqtt' }
 *   },
 * })
 * await kernel.start()
 * await bridge.start().catch((error) => kernel.logger.warn({ err: error }, 'MQTT not up yet'))
 * // …
 * await bridge.stop()
 * await kernel.stop()
 * ```
 * @public
 */
export function createMqttBridge(
  kernel: Kernel,
  options: CreateMqttBridgeOptions = {},
): MqttBridge {
  const settings = checkOptions(options)
  const log: Logger = options.logger ?? kernel.logger.child({ component: 'mqtt' })
  const limited = rateLimited(log)
  const { prefix } = settings
  const counters: Counters = {
    received: 0,
    published: 0,
    dropped: 0,
    rejected: 0,
    paused: 0,
    calls: 0,
    callErrors: 0,
    signedCalls: 0,
    signatureRefused: {},
  }
  let connection: Connection | undefined
  let stopped = false
  let inFlight = 0
  /** mqtt.js's `resume` while reading is paused at `maxInFlight` (at most one: it then reads nothing). */
  let parked: (() => void) | undefined
  const settled = (): void => {
    inFlight--
    if (parked !== undefined && inFlight < settings.maxInFlight) {
      const resume = parked
      parked = undefined
      resume()
    }
  }
  const track = (work: Promise<void> | undefined): void => {
    if (work === undefined) return
    inFlight++
    work.then(settled, settled)
  }

  // One shared callback: no closure or promise per message on the reply path.
  const sent = (error?: Error): void => {
    if (error === undefined || error === null) counters.published++
    else {
      counters.dropped++
      log.debug({ err: error }, 'MQTT publish failed')
    }
  }
  const send = (topic: string, payload: string, sendOptions: SendOptions): void => {
    if (connection === undefined || !connection.send(topic, payload, sendOptions, sent)) {
      counters.dropped++
    }
  }

  const stats = (): MqttBridgeStats => ({
    connected: connection?.connected ?? false,
    connects: connection?.connects ?? 0,
    ...counters,
    subscriptions: plugins.subscriptions().length,
    inFlight,
    logsSuppressed: limited.suppressed,
  })

  const plugins: PluginServices = registerPluginServices({
    kernel,
    connection: () => connection,
    prefix,
    counters,
    logger: log,
    limited,
    status: () => ({
      url: redact(settings.url),
      clientId: settings.clientId,
      prefix,
      stats: stats(),
      subscriptions: plugins.holders(),
    }),
  })
  createMqttMetrics(stats).register(kernel.metrics)
  // The bridge's own component in kernel.health(): degraded while the broker is not connected.
  const removeHealthCheck = kernel.addHealthCheck('mqtt', () => {
    const { connected, connects } = stats()
    return {
      status: connected ? 'healthy' : 'degraded',
      details: { url: redact(settings.url), prefix, connected, connects },
    }
  })

  let mirror: Mirror
  let calls: CallServer | undefined
  try {
    mirror = startMirror({
      kernel,
      prefix,
      events: settings.events,
      state: settings.state,
      send,
      logger: log,
      limited,
      signer: options.signing?.signer,
    })
    calls =
      settings.calls === false
        ? undefined
        : createCallServer({
            kernel,
            prefix,
            allowed: settings.calls,
            send,
            counters,
            authorize: settings.authorizeCall,
            limited,
            verifier: options.signing?.verifier,
          })
  } catch (error) {
    removeHealthCheck()
    plugins.close()
    throw error
  }

  const onConnect = (): void => {
    if (connection === undefined) return
    send(`${prefix}/status`, 'online', { qos: 1, retain: true })
    const filters = plugins.subscriptions()
    if (calls !== undefined) filters.push({ filter: calls.filter, qos: 1 })
    if (filters.length > 0) {
      connection.subscribe(filters).then(
        (grants) => {
          for (const grant of grants) {
            if (grant.qos >= 0x80) {
              log.error(
                { filter: grant.topic, reasonCode: grant.qos },
                `the broker refused the subscription to "${grant.topic}"`,
              )
            }
          }
        },
        (error: unknown) => log.debug({ err: error }, 'SUBSCRIBE after CONNACK not sent'),
      )
    }
    mirror.resync().catch((error: unknown) => log.warn({ err: error }, 'state resync failed'))
  }

  return {
    prefix,
    url: redact(settings.url),
    clientId: settings.clientId,
    callMode: settings.callMode,
    get connected() {
      return connection?.connected ?? false
    },
    start: async () => {
      if (stopped) {
        throw new CoreError('E_UNAVAILABLE', 'This MQTT bridge was stopped; create a new one')
      }
      connection ??= openConnection({
        url: settings.url,
        username: settings.username,
        password: settings.password,
        clientId: settings.clientId,
        protocolVersion: settings.protocolVersion,
        maxPacketBytes: settings.maxPacketBytes,
        will: { topic: `${prefix}/status`, payload: 'offline' },
        minDelayMs: settings.minDelayMs,
        maxDelayMs: settings.maxDelayMs,
        connectTimeoutMs: settings.connectTimeoutMs,
        logger: log,
        onConnect,
        onMessage: (topic, payload, packet) => {
          counters.received++
          if (calls?.owns(topic)) track(calls.handle(topic, payload, packet))
          track(plugins.dispatch(topic, payload, packet))
        },
        admit: (resume) => {
          if (inFlight < settings.maxInFlight) return resume()
          counters.paused++
          parked = resume
        },
      })
      await connection.waitConnected(settings.connectTimeoutMs)
    },
    stop: async () => {
      if (stopped) return
      stopped = true
      removeHealthCheck()
      mirror.close()
      plugins.close()
      parked?.()
      parked = undefined
      await connection?.close({ topic: `${prefix}/status`, payload: 'offline' })
      limited.flush()
    },
    stats,
  }
}

interface Settings {
  url: string
  username: string | undefined
  password: string | undefined
  clientId: string
  protocolVersion: 4 | 5
  prefix: string
  events: readonly string[]
  state: readonly string[]
  calls: TopicMatcher<true> | undefined | false
  callMode: MqttCallMode
  /** `undefined` with `trustBroker` (or calls off); refuses unsigned calls in `signature` mode. */
  authorizeCall: AuthorizeMqttCall | undefined
  maxInFlight: number
  maxPacketBytes: number
  minDelayMs: number
  maxDelayMs: number
  connectTimeoutMs: number
}

function checkOptions(options: CreateMqttBridgeOptions): Settings {
  if (typeof options !== 'object' || options === null) {
    throw bad('options', options, 'pass an options object (or nothing)')
  }
  const url = options.url ?? DEFAULT_MQTT_URL
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch (error) {
    throw bad('url', redact(url), 'use a broker URL such as mqtt://127.0.0.1:1883', error)
  }
  if (!['mqtt:', 'mqtts:', 'tcp:', 'tls:', 'ssl:', 'ws:', 'wss:'].includes(parsed.protocol)) {
    throw bad('url', redact(url), 'the scheme must be mqtt, mqtts, tcp, tls, ssl, ws or wss')
  }
  const prefix = options.prefix ?? DEFAULT_MQTT_PREFIX
  try {
    assertMqttTopic(prefix, 'prefix')
  } catch (error) {
    throw bad('prefix', prefix, (error as Error).message, error)
  }
  if (prefix.startsWith('/') || prefix.endsWith('/') || prefix.startsWith('$')) {
    throw bad('prefix', prefix, 'no leading or trailing "/", no leading "$"')
  }
  const protocolVersion = options.protocolVersion ?? 5
  if (protocolVersion !== 4 && protocolVersion !== 5) {
    throw bad('protocolVersion', protocolVersion, 'use 5 (MQTT 5) or 4 (MQTT 3.1.1)')
  }
  const patterns = (name: string, value: unknown, all: readonly string[]): readonly string[] => {
    if (value === undefined || value === true) return all
    if (value === false) return []
    if (!Array.isArray(value)) throw bad(name, value, 'use true, false or an array of patterns')
    for (const p of value) assertPattern(p, `${name} pattern`)
    return [...value] as string[]
  }
  const events = patterns('events', options.events ?? [], [])
  const state = patterns('state', options.state, ['#'])
  let calls: Settings['calls']
  if (options.calls === false || options.calls === undefined) calls = false
  else if (options.calls === true) calls = undefined
  else {
    calls = createTopicMatcher<true>()
    for (const p of patterns('calls', options.calls, [])) calls.add(p, true)
  }
  const { authorizeCall, trustBroker = false } = options
  if (authorizeCall !== undefined && typeof authorizeCall !== 'function') {
    throw bad('authorizeCall', typeof authorizeCall, 'pass an async function (token, service)')
  }
  if (typeof trustBroker !== 'boolean') throw bad('trustBroker', trustBroker, 'use true or false')
  let callMode: MqttCallMode = 'off'
  if (calls !== false) {
    if (authorizeCall !== undefined && trustBroker) {
      throw bad(
        'trustBroker',
        true,
        'choose one: authorizeCall checks a token on every call, trustBroker lets every call through',
      )
    }
    if (authorizeCall === undefined && !trustBroker && options.signing?.verifier === undefined) {
      throw bad(
        'calls',
        options.calls,
        'service calls over MQTT must be authenticated: pass authorizeCall (a bearer token per call), or set trustBroker: true when the broker refuses anonymous clients and its ACLs guard <prefix>/call/#',
      )
    }
    callMode = trustBroker ? 'trust-broker' : authorizeCall === undefined ? 'signature' : 'token'
  }
  const maxInFlight = options.maxInFlight ?? DEFAULT_MQTT_MAX_IN_FLIGHT
  if (!Number.isInteger(maxInFlight) || maxInFlight < 1) {
    throw bad('maxInFlight', maxInFlight, 'use an integer ≥ 1')
  }
  const maxPacketBytes = options.maxPacketBytes ?? DEFAULT_MQTT_MAX_PACKET_BYTES
  if (!Number.isInteger(maxPacketBytes) || maxPacketBytes < 1_024 || maxPacketBytes > 268_435_455) {
    throw bad('maxPacketBytes', maxPacketBytes, 'use an integer from 1024 to 268435455 (bytes)')
  }
  const minDelayMs = options.reconnect?.minDelayMs ?? 1_000
  const maxDelayMs = options.reconnect?.maxDelayMs ?? 30_000
  const connectTimeoutMs = options.connectTimeoutMs ?? 10_000
  for (const [name, v] of [
    ['reconnect.minDelayMs', minDelayMs],
    ['reconnect.maxDelayMs', maxDelayMs],
    ['connectTimeoutMs', connectTimeoutMs],
  ] as const) {
    if (!Number.isInteger(v) || v < 1) throw bad(name, v, 'use an integer number of ms ≥ 1')
  }
  if (maxDelayMs < minDelayMs) {
    throw bad('reconnect.maxDelayMs', maxDelayMs, `must be ≥ reconnect.minDelayMs (${minDelayMs})`)
  }
  const clientId =
    options.clientId ??
    `core-${prefix.replace(/[^A-Za-z0-9]+/g, '-').slice(0, 40)}-${randomBytes(4).toString('hex')}`
  if (typeof clientId !== 'string' || clientId.length === 0 || clientId.length > 256) {
    throw bad('clientId', clientId, 'use a non-empty string of at most 256 characters')
  }
  return {
    url,
    username:
      options.username ??
      (parsed.username === '' ? undefined : decodeURIComponent(parsed.username)),
    password:
      options.password ??
      (parsed.password === '' ? undefined : decodeURIComponent(parsed.password)),
    clientId,
    protocolVersion,
    prefix,
    events,
    state,
    calls,
    callMode,
    authorizeCall:
      callMode === 'token'
        ? authorizeCall
        : callMode === 'signature'
          ? refuseUnsignedCall
          : undefined,
    maxInFlight,
    maxPacketBytes,
    minDelayMs,
    maxDelayMs,
    connectTimeoutMs,
  }
}

function bad(name: string, value: unknown, rule: string, cause?: unknown): CoreError {
  return new CoreError(
    'E_VALIDATION',
    `Invalid MQTT bridge option ${name} ${JSON.stringify(value)}: ${rule}`,
    { cause, details: { option: name } },
  )
}
