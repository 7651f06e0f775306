import type { Socket } from 'node:net'
import { CoreError, type Logger } from '@core/contracts'
import {
  connect,
  type IClientOptions,
  type IConnackPacket,
  type IPublishPacket,
  type ISubscriptionGrant,
  type MqttClient,
} from 'mqtt'

/** What {@link openConnection} needs. @internal */
export interface ConnectionOptions {
  url: string
  username: string | undefined
  password: string | undefined
  clientId: string
  protocolVersion: 4 | 5
  /** MQTT 5 Maximum Packet Size asked of the broker, bytes (not sent with MQTT 3.1.1). */
  maxPacketBytes: number
  /** Retained last will, published by the broker when the link dies uncleanly. */
  will: { topic: string; payload: string }
  minDelayMs: number
  maxDelayMs: number
  connectTimeoutMs: number
  logger: Logger
  /** Called on every CONNACK (first connection and each reconnection). */
  onConnect: (connack: IConnackPacket) => void
  /** Called for every inbound PUBLISH. */
  onMessage: (topic: string, payload: Buffer, packet: IPublishPacket) => void
  /**
   * Called after each inbound PUBLISH was handed to `onMessage`; mqtt.js reads no further
   * packet until `resume` is called (its `handleMessage` hook), which is the bridge's
   * backpressure.
   */
  admit: (resume: () => void) => void
}

/** Options of {@link Connection.publish}. @internal */
export interface SendOptions {
  qos: 0 | 1 | 2
  retain: boolean
  properties?: IPublishPacket['properties']
}

/** One broker connection with backoff, TCP_NODELAY and refusal while down. @internal */
export interface Connection {
  readonly connected: boolean
  /** CONNACKs received so far. */
  readonly connects: number
  /** The last connection error, for messages. */
  readonly lastError: Error | undefined
  /** Milliseconds until the next reconnection attempt (0 when connected). */
  readonly nextDelayMs: number
  /**
   * Sends one PUBLISH; resolves when written (QoS 0) or acknowledged (QoS 1, 2).
   * @throws CoreError E_UNAVAILABLE while disconnected (nothing is queued).
   */
  publish(topic: string, payload: string | Buffer, options: SendOptions): Promise<void>
  /**
   * Sends one PUBLISH without a promise (the hot path of call replies and mirrored messages):
   * `false` at once while disconnected; else `true`, and `done(error?)` once written or acked.
   */
  send(
    topic: string,
    payload: string | Buffer,
    options: SendOptions,
    done: (error?: Error) => void,
  ): boolean
  /** SUBSCRIBE; resolves with the grants. Rejects with E_UNAVAILABLE when the link is down. */
  subscribe(
    filters: ReadonlyArray<{ filter: string; qos: 0 | 1 | 2 }>,
  ): Promise<ISubscriptionGrant[]>
  /** UNSUBSCRIBE; a no-op while disconnected (a clean session forgets subscriptions). */
  unsubscribe(filters: readonly string[]): Promise<void>
  /** Resolves on the first CONNACK; rejects with E_UNAVAILABLE after `timeoutMs` (retries go on). */
  waitConnected(timeoutMs: number): Promise<void>
  /** Publishes `final` (if connected), sends DISCONNECT and stops reconnecting. */
  close(final?: { topic: string; payload: string }): Promise<void>
}

/**
 * Opens the mqtt.js client. Reconnection is mqtt.js's own (`reconnectPeriod`), with the
 * period re-set before each attempt to a bounded exponential backoff with ±20 % jitter:
 * `min(maxDelayMs, minDelayMs · 2^(attempt-1))`. The socket gets TCP_NODELAY on every
 * connection (Nagle plus delayed ACKs cost ~40 ms per round trip). mqtt.js's own offline
 * queue is off (`queueQoSZero: false`) and `publish` refuses while disconnected, so nothing
 * stale is delivered after an outage.
 * @internal
 */
export function openConnection(options: ConnectionOptions): Connection {
  const log = options.logger
  let attempt = 0
  let closing = false
  let connects = 0
  let lastError: Error | undefined
  let failuresLogged = 0
  let nextDelayMs = 0
  const waiters = new Set<{ resolve: () => void; reject: (error: CoreError) => void }>()

  const clientOptions: IClientOptions = {
    protocolVersion: options.protocolVersion,
    clientId: options.clientId,
    clean: true,
    keepalive: 30,
    reconnectPeriod: options.minDelayMs,
    connectTimeout: options.connectTimeoutMs,
    queueQoSZero: false,
    resubscribe: false,
    will: {
      topic: options.will.topic,
      payload: Buffer.from(options.will.payload),
      qos: 1,
      retain: true,
    },
  }
  if (options.protocolVersion === 5) {
    clientOptions.properties = { maximumPacketSize: options.maxPacketBytes }
  }
  if (options.username !== undefined) clientOptions.username = options.username
  if (options.password !== undefined) clientOptions.password = options.password
  const client: MqttClient = connect(options.url, clientOptions)

  // Runs before mqtt.js's own 'close' listener, which schedules the next attempt with
  // options.reconnectPeriod: this is where the backoff is set.
  client.prependListener('close', () => {
    if (closing) return
    attempt++
    nextDelayMs = backoffDelayMs(attempt, options.minDelayMs, options.maxDelayMs, Math.random())
    client.options.reconnectPeriod = nextDelayMs
    if (attempt === 1 && connects > 0) {
      log.warn({ url: redact(options.url) }, 'MQTT connection lost; reconnecting with backoff')
    }
  })
  client.prependListener('connect', (connack) => {
    ;(client.stream as Partial<Socket>).setNoDelay?.(true)
    attempt = 0
    nextDelayMs = 0
    failuresLogged = 0
    connects++
    log.info(
      { url: redact(options.url), clientId: options.clientId, reconnect: connects > 1 },
      connects > 1 ? 'MQTT reconnected' : 'MQTT connected',
    )
    for (const waiter of [...waiters]) waiter.resolve()
    try {
      options.onConnect(connack)
    } catch (error) {
      log.error({ err: error }, 'MQTT on-connect work failed')
    }
  })
  client.on('error', (error) => {
    lastError = error
    // The first failure of a streak at warn, the rest at debug: a broker that is down for an
    // hour must not fill the log.
    if (failuresLogged++ === 0) {
      log.warn({ err: error, url: redact(options.url) }, `MQTT connection error: ${error.message}`)
    } else log.debug({ err: error }, 'MQTT connection error')
  })
  // mqtt.js parses the next packet only once this callback runs (QoS 1 sends its PUBACK then).
  client.handleMessage = (_packet, callback) => {
    options.admit(() => callback())
  }
  client.on('message', (topic, payload, packet) => {
    try {
      options.onMessage(topic, payload, packet)
    } catch (error) {
      log.error({ err: error, topic }, 'handling an MQTT message failed')
    }
  })

  const unavailable = (what: string): CoreError =>
    new CoreError(
      'E_UNAVAILABLE',
      `MQTT broker ${redact(options.url)} is not connected (${
        nextDelayMs > 0 ? `next attempt in about ${nextDelayMs} ms` : 'connecting'
      }${lastError === undefined ? '' : `; last error: ${lastError.message}`}): ${what}; try again once it is back`,
      { details: { url: redact(options.url) } },
    )

  return {
    get connected() {
      return client.connected && !closing
    },
    get connects() {
      return connects
    },
    get lastError() {
      return lastError
    },
    get nextDelayMs() {
      return nextDelayMs
    },
    publish: (topic, payload, send) => {
      if (!client.connected || closing) {
        return Promise.reject(unavailable(`nothing was published to "${topic}"`))
      }
      return new Promise<void>((resolve, reject) => {
        const opts: Parameters<MqttClient['publish']>[2] = { qos: send.qos, retain: send.retain }
        if (send.properties !== undefined) opts.properties = send.properties
        client.publish(topic, payload, opts, (error) => {
          if (error === undefined || error === null) resolve()
          else reject(toUnavailable(error, `publishing to "${topic}" failed`))
        })
      })
    },
    send: (topic, payload, options, done) => {
      if (!client.connected || closing) return false
      client.publish(topic, payload, options, done)
      return true
    },
    subscribe: (filters) => {
      if (!client.connected || closing) {
        return Promise.reject(unavailable('cannot subscribe now'))
      }
      return new Promise<ISubscriptionGrant[]>((resolve, reject) => {
        const map: Record<string, { qos: 0 | 1 | 2 }> = {}
        for (const f of filters) map[f.filter] = { qos: f.qos }
        client.subscribe(map, (error, granted) => {
          if (error) reject(toUnavailable(error, 'SUBSCRIBE failed'))
          else resolve(granted ?? [])
        })
      })
    },
    unsubscribe: (filters) => {
      if (!client.connected || closing || filters.length === 0) return Promise.resolve()
      return new Promise<void>((resolve) => {
        client.unsubscribe([...filters], (error) => {
          if (error) log.debug({ err: error, filters }, 'UNSUBSCRIBE failed')
          resolve()
        })
      })
    },
    waitConnected: (timeoutMs) => {
      if (client.connected) return Promise.resolve()
      if (closing) return Promise.reject(unavailable('the bridge is stopped'))
      return new Promise<void>((resolve, reject) => {
        const waiter = {
          resolve: (): void => {
            clearTimeout(timer)
            waiters.delete(waiter)
            resolve()
          },
          reject: (error: CoreError): void => {
            clearTimeout(timer)
            waiters.delete(waiter)
            reject(error)
          },
        }
        const timer = setTimeout(() => {
          waiter.reject(
            unavailable(`no connection within ${timeoutMs} ms (still retrying in the background)`),
          )
        }, timeoutMs)
        waiters.add(waiter)
      })
    },
    close: async (final) => {
      if (closing) return
      if (final !== undefined && client.connected) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 2_000)
          client.publish(final.topic, final.payload, { qos: 1, retain: true }, () => {
            clearTimeout(timer)
            resolve()
          })
        })
      }
      closing = true
      for (const waiter of [...waiters]) waiter.reject(unavailable('the bridge was stopped'))
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          client.end(true)
          resolve()
        }, 2_000)
        client.end(!client.connected, () => {
          clearTimeout(timer)
          resolve()
        })
      })
    },
  }
}

/**
 * The delay before reconnection attempt `attempt` (1, 2, …): `minDelayMs · 2^(attempt−1)`,
 * capped at `maxDelayMs`, times a jitter factor in [0.8, 1.2) from `random` ∈ [0, 1), capped
 * at `maxDelayMs` again, at least 1 ms. @internal
 */
export function backoffDelayMs(
  attempt: number,
  minDelayMs: number,
  maxDelayMs: number,
  random: number,
): number {
  const base = Math.min(maxDelayMs, minDelayMs * 2 ** Math.min(Math.max(attempt, 1) - 1, 30))
  return Math.max(1, Math.round(Math.min(maxDelayMs, base * (0.8 + 0.4 * random))))
}

/** The URL without credentials, for logs and messages. @internal */
export function redact(url: string): string {
  try {
    const u = new URL(url)
    u.username = ''
    u.password = ''
    return u.toString().replace(/\/$/, '')
  } catch {
    return url.replace(/\/\/[^@/]*@/, '//')
  }
}

function toUnavailable(error: Error, what: string): CoreError {
  if (CoreError.is(error)) return error
  return new CoreError('E_UNAVAILABLE', `${what}: ${error.message}`, { cause: error })
}
