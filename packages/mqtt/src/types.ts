import type { Logger } from '@core/contracts'

/** An MQTT quality of service level. @public */
export type MqttQos = 0 | 1 | 2

/** Reconnection backoff of {@link CreateMqttBridgeOptions.reconnect}. @public */
export interface MqttReconnectOptions {
  /** Delay before the first reconnection attempt, ms (integer ≥ 1). @defaultValue 1_000 */
  minDelayMs?: number
  /** Longest delay between attempts, ms (integer ≥ `minDelayMs`). @defaultValue 30_000 */
  maxDelayMs?: number
}

/** Options of `createMqttBridge`. All optional. @public */
export interface CreateMqttBridgeOptions {
  /** Broker URL (`mqtt://`, `mqtts://`, `ws://`, `wss://`). @defaultValue 'mqtt://127.0.0.1:1883' */
  url?: string
  /** Broker user name. @defaultValue the URL's user name, if any */
  username?: string
  /** Broker password. @defaultValue the URL's password, if any */
  password?: string
  /** MQTT client identifier. @defaultValue `core-<prefix>-<8 random hex>` */
  clientId?: string
  /**
   * The bridge's own protocol: 5 (MQTT 5: response topics and correlation data) or 4
   * (MQTT 3.1.1: service calls only in the JSON-body form). Either way, other clients may use
   * either version. @defaultValue 5
   */
  protocolVersion?: 4 | 5
  /**
   * First level(s) of every topic the kernel uses on MQTT: `<prefix>/status`,
   * `<prefix>/events/…`, `<prefix>/state/…`, `<prefix>/call/<service>`. A topic name (no
   * wildcards), without a leading or trailing `/`. @defaultValue 'core'
   */
  prefix?: string
  /**
   * Bus patterns (AMQP: `*` one word, `#` zero or more) whose events are published as JSON
   * CloudEvents to `<prefix>/events/<levels>`. Events of `mqtt.message.…` are never forwarded
   * (they came from MQTT). @defaultValue [] (none)
   */
  events?: readonly string[]
  /**
   * Which state keys are mirrored as retained messages on `<prefix>/state/<namespace>/<key levels>`:
   * `false` none, `true` all, or patterns over `<namespace>.<key>` (`['devices.#']`).
   * @defaultValue true
   */
  state?: boolean | readonly string[]
  /**
   * Which services may be called through `<prefix>/call/<service>`: `false` none, `true` all,
   * or patterns over service names (`['lights.*']`). Anyone who may publish there can call
   * them: restrict with broker ACLs and this list. @defaultValue true
   */
  calls?: boolean | readonly string[]
  /** Reconnection backoff. */
  reconnect?: MqttReconnectOptions
  /** How long `start()` and each CONNACK wait, ms (integer ≥ 1). @defaultValue 10_000 */
  connectTimeoutMs?: number
  /** @defaultValue the kernel's logger, child `{ component: 'mqtt' }` */
  logger?: Logger
}

/** Counters of a bridge since it was created (`bridge.stats()`). @public */
export interface MqttBridgeStats {
  /** True while connected to the broker. */
  connected: boolean
  /** CONNACKs received (1 + reconnections). */
  connects: number
  /** MQTT messages received. */
  received: number
  /** MQTT messages published. */
  published: number
  /**
   * Messages not sent (broker down, refused) or not turned into a bus event (topic too long
   * or too deep for an event type).
   */
  dropped: number
  /** Bad input refused: non-JSON on a JSON topic, a bad reply topic, a malformed call. */
  rejected: number
  /** Service calls served through `<prefix>/call/…`. */
  calls: number
  /** Of those, the ones answered (or dropped) with an error. */
  callErrors: number
  /** MQTT topic filters held for plugins. */
  subscriptions: number
}

/**
 * The MQTT bridge of one kernel. See `createMqttBridge`.
 * @public
 */
export interface MqttBridge {
  /** The topic prefix in use. */
  readonly prefix: string
  /** The broker URL, without credentials. */
  readonly url: string
  /** The MQTT client identifier in use. */
  readonly clientId: string
  /** True while connected to the broker. */
  readonly connected: boolean
  /**
   * Connects (once); resolves on the first CONNACK. Rejects with `E_UNAVAILABLE` after
   * `connectTimeoutMs` while reconnection goes on in the background, so a hub may log it and
   * carry on.
   */
  start(): Promise<void>
  /**
   * Publishes `offline` (retained) on `<prefix>/status`, disconnects cleanly, unregisters the
   * `mqtt.*` services and ends the bus subscriptions. Calling it again does nothing.
   */
  stop(): Promise<void>
  /** A copy of the counters. */
  stats(): MqttBridgeStats
}

/** Params of the `mqtt.publish` service. @public */
export interface MqttPublishParams {
  /** MQTT topic name, no wildcards. */
  topic: string
  /** A string (sent as UTF-8 text) or any other JSON value (sent as JSON). @defaultValue '' (empty) */
  payload?: unknown
  /** @defaultValue 0 */
  qos?: MqttQos
  /** @defaultValue false */
  retain?: boolean
}

/** Params of the `mqtt.subscribe` service. @public */
export interface MqttSubscribeParams {
  /** MQTT topic filter (`+` one level, `#` the rest). */
  filter: string
  /** Maximum QoS asked of the broker. @defaultValue 0 */
  qos?: MqttQos
}

/** Result of the `mqtt.subscribe` service. @public */
export interface MqttSubscribeResult {
  /** The bus pattern that matches the events of this filter's messages (`mqtt.message.…`). */
  pattern: string
}

/** Params of the `mqtt.unsubscribe` service. @public */
export interface MqttUnsubscribeParams {
  filter: string
}

/** Result of the `mqtt.unsubscribe` service. @public */
export interface MqttUnsubscribeResult {
  /** True when the caller held this filter. */
  released: boolean
}

/** The `data` of an `mqtt.message.<words>` event: one inbound MQTT message. @public */
export interface MqttMessageData {
  /** The MQTT topic, as received. */
  topic: string
  /** The payload parsed as JSON when it parses, else the UTF-8 text (`''` when empty). */
  payload: unknown
  /** True for a retained message delivered on subscribe. */
  retain: boolean
  qos: MqttQos
}

/** Result of the `mqtt.status` service. @public */
export interface MqttStatusResult {
  url: string
  clientId: string
  prefix: string
  stats: MqttBridgeStats
  /** Filters held for plugins, with the callers holding each. */
  subscriptions: Array<{ filter: string; callers: string[] }>
}

/** Mutable counters shared by the bridge's parts. @internal */
export type Counters = Omit<MqttBridgeStats, 'connected' | 'connects' | 'subscriptions'>
