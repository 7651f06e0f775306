import type { Logger } from '@core/contracts'
import type { HttpServer } from '@core/http'
import type { Kernel } from '@core/kernel'
import { createMqttBridge, type MqttBridge } from '@core/mqtt'
import type { HubConfig } from './config.js'
import { createMqttCallAuthorizer, describeMqttCalls } from './mqtt-calls.js'
import type { HubSigning } from './signing-config.js'

/** The MQTT side of a booted hub, as the startup summary reports it. */
export interface MqttStatus {
  /** The bridge, or `undefined` when `mqtt.enabled` is false. */
  readonly bridge: MqttBridge | undefined
  /** Whether the first connection was made during the boot. */
  readonly connectedAtBoot: boolean
  /** Why it was not (the broker's error, or the wait that ran out). */
  readonly error: string | undefined
}

/** The bridge's logger (records its last error for the summary) and the bridge, if enabled. */
export interface HubBridge {
  readonly bridge: MqttBridge | undefined
  /** The message of the last error the bridge logged. */
  readonly lastError: () => string | undefined
}

/**
 * Creates the MQTT bridge the config describes (or none when `mqtt.enabled` is false), warning
 * when calls are served without tokens (`mqtt.trustBroker`). The bridge exists before the HTTP
 * server that owns the token store: the call check reads `http()` when a call comes
 * (late-bound), and refuses with E_UNAVAILABLE until then.
 * @throws {@link @core/contracts!CoreError} `E_VALIDATION` from `createMqttBridge` (a bad URL or prefix).
 */
export function createHubBridge(
  kernel: Kernel,
  config: HubConfig,
  logger: Logger,
  http: () => HttpServer | undefined,
  signing?: HubSigning['mqtt'],
): HubBridge {
  const m = config.mqtt
  const mqttLog = recordingErrors(logger.child({ component: 'mqtt' }))
  const callAuth =
    m.calls === false
      ? {}
      : m.trustBroker
        ? { trustBroker: true }
        : { authorizeCall: createMqttCallAuthorizer(http) }
  const bridge = m.enabled
    ? createMqttBridge(kernel, {
        logger: mqttLog.logger,
        url: m.url,
        prefix: m.prefix,
        events: m.events,
        state: m.state,
        calls: m.calls,
        ...callAuth,
        ...(signing === undefined ? {} : { signing }),
        ...(m.maxInFlight === undefined ? {} : { maxInFlight: m.maxInFlight }),
        ...(m.maxPacketBytes === undefined ? {} : { maxPacketBytes: m.maxPacketBytes }),
        ...(m.username === undefined ? {} : { username: m.username }),
        ...(m.password === undefined ? {} : { password: m.password }),
      })
    : undefined
  if (bridge !== undefined && bridge.callMode === 'trust-broker') {
    logger.warn(
      { prefix: m.prefix },
      `MQTT calls are served WITHOUT tokens (mqtt.trustBroker): anyone the broker lets publish on ${m.prefix}/call/# can call services; keep anonymous access off and restrict that topic with broker ACLs`,
    )
  }
  return { bridge, lastError: mqttLog.last }
}

/** `mqtt://127.0.0.1:1883 connected · prefix core`, or why not. */
export function describeMqtt(config: HubConfig, mqtt: MqttStatus): string {
  const { bridge } = mqtt
  if (bridge === undefined) return 'off (mqtt.enabled is false in the config)'
  const link = bridge.connected
    ? 'connected'
    : `NOT connected (${mqtt.error ?? 'connection lost'}), retrying in the background; health is degraded until it connects`
  const forwarded =
    config.mqtt.events.length === 0 ? '' : ` · events ${config.mqtt.events.join(', ')}`
  return `${bridge.url} ${link} · prefix ${bridge.prefix}${forwarded} · ${describeMqttCalls(config.mqtt)}`
}

/**
 * Starts the bridge and waits for its first connection at most `waitMs`. Never throws: a
 * broker that is down is logged (warn) and the bridge keeps reconnecting on its own.
 */
export async function connectBridge(
  bridge: MqttBridge | undefined,
  waitMs: number,
  logger: Logger,
  lastError: () => string | undefined,
): Promise<MqttStatus> {
  if (bridge === undefined) return { bridge, connectedAtBoot: false, error: undefined }
  const started = bridge.start()
  let timer: NodeJS.Timeout | undefined
  let outcome = await Promise.race([
    started.then(
      () => undefined,
      (error: unknown) => (error instanceof Error ? error.message : String(error)),
    ),
    new Promise<string>((resolveWait) => {
      timer = setTimeout(() => resolveWait(`no connection within ${waitMs} ms`), waitMs)
    }),
  ])
  clearTimeout(timer)
  // Still pending after the wait: it rejects later, while retries go on.
  started.catch((error: unknown) => logger.debug({ err: error }, 'MQTT bridge start'))
  if (outcome === undefined) return { bridge, connectedAtBoot: true, error: undefined }
  const cause = lastError()
  if (cause !== undefined) outcome = `${cause}; ${outcome}`
  logger.warn(
    { url: bridge.url, reason: outcome },
    `MQTT broker ${bridge.url} is not reachable (${outcome}): the hub runs without it, the bridge keeps reconnecting in the background, and mqtt.publish is refused (E_UNAVAILABLE) until it connects`,
  )
  return { bridge, connectedAtBoot: false, error: outcome }
}

/**
 * Wraps the bridge's logger to remember the message of the last error it logged (e.g.
 * `connect ECONNREFUSED 127.0.0.1:1883`), so the startup summary can say why MQTT is down.
 */
function recordingErrors(logger: Logger): { logger: Logger; last: () => string | undefined } {
  let last: string | undefined
  const wrap = (method: 'warn' | 'error'): Logger['warn'] => {
    const write = logger[method].bind(logger) as (...args: unknown[]) => void
    return ((...args: unknown[]) => {
      const [obj] = args
      if (
        typeof obj === 'object' &&
        obj !== null &&
        (obj as { err?: unknown }).err instanceof Error
      )
        last = (obj as { err: Error }).err.message
      write(...args)
    }) as Logger['warn']
  }
  const wrapped: Logger = {
    debug: logger.debug.bind(logger),
    info: logger.info.bind(logger),
    warn: wrap('warn'),
    error: wrap('error'),
    child: (bindings) => logger.child(bindings),
  }
  return { logger: wrapped, last: () => last }
}
