import type { Logger } from '@core/contracts'
import type { Signer, Verifier } from '@core/signing'

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
   * or patterns over service names (`['lights.*']`). When on, calls must be authenticated:
   * give {@link CreateMqttBridgeOptions.authorizeCall}, or set
   * {@link CreateMqttBridgeOptions.trustBroker} explicitly. @defaultValue false
   */
  calls?: boolean | readonly string[]
  /**
   * Checks the bearer token of each MQTT call before the service is looked up, e.g. against
   * the HTTP token store's scopes. The token is the MQTT 5 user property
   * `authorization: Bearer <token>`, else the `authorization` field of the JSON body
   * (MQTT 3.1.1); `undefined` when the call carries none. Resolve with the caller; reject with
   * `E_UNAUTHENTICATED` (no, malformed or unknown token) or `E_FORBIDDEN` (the token may not
   * call `service`): the refusal is the call's reply. Required when `calls` is on, unless
   * `trustBroker` is set.
   */
  authorizeCall?: AuthorizeMqttCall
  /**
   * Lets every call through without a token (`meta.caller` = `mqtt`): the broker's own
   * authentication and ACLs are then the only gate on `<prefix>/call/#`. Only with a broker
   * that refuses anonymous clients; exclusive with `authorizeCall`. @defaultValue false
   */
  trustBroker?: boolean
  /**
   * Most inbound messages in progress at once: bus deliveries of `mqtt.message.…` events not yet
   * settled by their handlers, plus service calls not yet replied to (an integer ≥ 1). At the
   * limit the bridge stops reading from the broker connection until one settles (TCP
   * backpressure: the broker queues or drops per its own limits), so a flood never grows the
   * hub's memory. @defaultValue 256
   */
  maxInFlight?: number
  /**
   * Largest MQTT packet the bridge takes, in bytes (an integer 1,024–268,435,455). With MQTT 5
   * it is sent in CONNECT as the Maximum Packet Size (MQTT 5.0 §3.1.2.11.4): the broker then
   * drops a larger message for this client instead of sending it, so one client cannot make
   * the hub buffer a message of up to 256 MiB. MQTT 3.1.1 has no such property: there, set the
   * broker's own limit (Mosquitto `message_size_limit`). @defaultValue 16_777_216 (16 MiB)
   */
  maxPacketBytes?: number
  /** Reconnection backoff. */
  reconnect?: MqttReconnectOptions
  /** How long `start()` and each CONNACK wait, ms (integer ≥ 1). @defaultValue 10_000 */
  connectTimeoutMs?: number
  /** @defaultValue the kernel's logger, child `{ component: 'mqtt' }` */
  logger?: Logger
  /**
   * Signed messages (`@core/signing`). With `verifier`, a call on `<prefix>/call/<service>` in
   * the signed form — a CloudEvent of type `core.mqtt.call`, `subject` the service, `data`
   * `{ params, replyTo?, correlationId? }`, with `sigalg`/`sigkid`/`sig` — is authenticated by
   * its signature instead of a bearer token (refusals are replied with `details.reason` and
   * counted in `signatureRefused`); `calls` may then be on without `authorizeCall`, and unsigned
   * calls are refused. With `signer`, the events published to `<prefix>/events/…` are signed.
   * @defaultValue none: no signatures
   */
  signing?: { verifier?: Verifier; signer?: Signer }
}

/**
 * The check of {@link CreateMqttBridgeOptions.authorizeCall}.
 * @param token - The bearer token of the call (without `Bearer `), `undefined` when none.
 * @param service - The service called.
 * @returns The caller (`meta.caller` of the call) and optionally the token's id (`meta.token`).
 * @throws {@link @core/contracts!CoreError} `E_UNAUTHENTICATED` (no or bad token), `E_FORBIDDEN` (scope too narrow).
 * @public
 */
export type AuthorizeMqttCall = (
  token: string | undefined,
  service: string,
) => Promise<MqttCallAuthorization>

/** What {@link AuthorizeMqttCall} resolves with. @public */
export interface MqttCallAuthorization {
  /** `meta.caller` of the call, e.g. `mqtt`. */
  caller: string
  /** `meta.token` of the call: the token's id, for audit (never the secret). */
  tokenId?: string
  /**
   * Who the operator policy (`kernel.security`) weighs the call as. @defaultValue `token:<tokenId>`
   * with a token, else `user:<caller>`
   */
  subject?: string
}

/**
 * How `<prefix>/call/…` is served: not at all, with a token per call, trusting the broker, or
 * only signed calls (`signing.verifier` without `authorizeCall`). @public
 */
export type MqttCallMode = 'off' | 'token' | 'trust-broker' | 'signature'

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
  /** Calls authenticated by a valid signature. */
  signedCalls: number
  /** Signed calls refused, by reason (`bad-signature`, `replayed`, `wrong-service`, …). */
  signatureRefused: Record<string, number>
  /** MQTT topic filters held for plugins. */
  subscriptions: number
  /** Inbound messages in progress now (at most `maxInFlight`). */
  inFlight: number
  /** Times reading from the broker paused because `maxInFlight` was reached. */
  paused: number
  /** Log lines suppressed by the rate limit of repeated warnings. */
  logsSuppressed: number
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
  /** How `<prefix>/call/…` is served: `off`, `token` (authorizeCall) or `trust-broker`. */
  readonly callMode: MqttCallMode
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
export type Counters = Omit<
  MqttBridgeStats,
  'connected' | 'connects' | 'subscriptions' | 'inFlight' | 'logsSuppressed'
>
