import { DEFAULT_MQTT_PREFIX, DEFAULT_MQTT_URL } from '@core/mqtt'
import Type from 'typebox'

// One default MQTT URL and prefix: those of @core/mqtt.
export { DEFAULT_MQTT_PREFIX, DEFAULT_MQTT_URL }
/** How long the boot waits for the first broker connection before going on without it, ms. */
export const DEFAULT_MQTT_START_WAIT_MS = 2_000
/** The URL schemes the MQTT client takes. */
export const MQTT_URL_PATTERN = '^(mqtts?|tcp|tls|ssl|wss?)://'
/** An MQTT topic without wildcards, a leading `$` or `/`, or a trailing `/`. */
const MQTT_PREFIX_PATTERN = '^[^/$#+\\u0000]([^#+\\u0000]*[^/#+\\u0000])?$'
const Patterns = (description: string) =>
  Type.Array(Type.String({ minLength: 1, maxLength: 255 }), { description })
const PatternSwitch = (description: string) =>
  Type.Union([Type.Boolean(), Patterns(description)], { description })

/** The `mqtt` section of the hub config file: the MQTT bridge (`@core/mqtt`). */
export const MqttConfigSchema = Type.Object(
  {
    enabled: Type.Optional(
      Type.Boolean({ description: 'Run the MQTT bridge (@core/mqtt). Default true' }),
    ),
    url: Type.Optional(
      Type.String({
        pattern: MQTT_URL_PATTERN,
        description:
          'Broker URL (mqtt, mqtts, tcp, tls, ws, wss). Env CORE_MQTT_URL. Default mqtt://127.0.0.1:1883',
      }),
    ),
    prefix: Type.Optional(
      Type.String({
        maxLength: 200,
        pattern: MQTT_PREFIX_PATTERN,
        description:
          "First topic level(s) of the kernel's topics: <prefix>/status, /events, /state, /call. Default core",
      }),
    ),
    username: Type.Optional(Type.String({ minLength: 1, description: 'Broker user name' })),
    password: Type.Optional(Type.String({ description: 'Broker password (never logged)' })),
    events: Type.Optional(
      Patterns('Bus event patterns forwarded to <prefix>/events/<levels>. Default none'),
    ),
    state: Type.Optional(
      PatternSwitch(
        'State keys mirrored (retained) to <prefix>/state/<namespace>/<key>: true all, false none, or patterns over <namespace>.<key>. Default true',
      ),
    ),
    calls: Type.Optional(
      PatternSwitch(
        'Services callable on <prefix>/call/<service>: true all, false none, or patterns over service names. Each call needs a bearer token (MQTT 5 user property "authorization: Bearer <token>", or "authorization" in the JSON body) with services.call scope, unless trustBroker is true. Default false',
      ),
    ),
    trustBroker: Type.Optional(
      Type.Boolean({
        description:
          'Serve MQTT calls without a token: the broker (anonymous access off, per-client ACLs on <prefix>/call/#) is then the only gate. Logged at start. Default false',
      }),
    ),
    maxInFlight: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 100_000,
        description:
          'Inbound MQTT messages in progress at once; at the limit the bridge stops reading from the broker until one settles. Default 256',
      }),
    ),
    maxPacketBytes: Type.Optional(
      Type.Integer({
        minimum: 1_024,
        maximum: 268_435_455,
        description:
          'Largest MQTT packet the hub takes, bytes: MQTT 5 Maximum Packet Size, so the broker drops larger messages for the hub instead of sending them. Default 16777216 (16 MiB)',
      }),
    ),
    startWaitMs: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 60_000,
        description:
          'How long the boot waits for the first broker connection before going on without it (the bridge keeps retrying), ms. Default 2000',
      }),
    ),
  },
  { additionalProperties: false, description: 'The MQTT bridge (@core/mqtt)' },
)

/** The MQTT bridge settings, resolved. */
export interface MqttSettings {
  enabled: boolean
  url: string
  prefix: string
  username: string | undefined
  password: string | undefined
  events: string[]
  state: boolean | string[]
  /** Services callable over MQTT; `false` (the default) none. */
  calls: boolean | string[]
  /** Serve MQTT calls without a token, trusting the broker's ACLs. */
  trustBroker: boolean
  /** Inbound messages in progress at once, `undefined` = the bridge's default. */
  maxInFlight: number | undefined
  /** Largest MQTT packet taken, bytes; `undefined` = the bridge's default (16 MiB). */
  maxPacketBytes: number | undefined
  startWaitMs: number
}
