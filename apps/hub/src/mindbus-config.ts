import { CoreError } from '@core/contracts'
import Type, { type Static } from 'typebox'

/** `amqp://` or `amqps://` (TLS). */
export const AMQP_URL_PATTERN = '^amqps?://'
/** A role: the word of `ctl.<role>.*` (letters, digits, `_`, `-`). */
const ROLE_PATTERN = '^[A-Za-z0-9_-]{1,64}$'
const Patterns = (description: string) =>
  Type.Array(Type.String({ minLength: 1, maxLength: 255 }), { description })

/** The `mindbus` section of the hub config file: the hub in cluster mode (`@core/mindbus`). */
export const MindBusConfigSchema = Type.Object(
  {
    url: Type.Optional(
      Type.String({
        pattern: AMQP_URL_PATTERN,
        description:
          'amqp://user:password@host:port[/vhost]: join the cluster over RabbitMQ (service calls, events and control between hubs). Env CORE_AMQP_URL. Default: off',
      }),
    ),
    roles: Type.Optional(
      Type.Array(Type.String({ pattern: ROLE_PATTERN }), {
        maxItems: 16,
        description:
          'Roles of this hub: it also receives the control signals ctl.<role>.*. Env CORE_NODE_ROLES="kitchen,gateway". Default none',
      }),
    ),
    events: Type.Optional(
      Type.Object(
        {
          export: Type.Optional(
            Patterns(
              'Local event patterns published to the cluster as evt.<type>, e.g. ["zigbee2mqtt.#"]. Default none',
            ),
          ),
          import: Type.Optional(
            Patterns(
              'Event patterns received from the other hubs and published on the local bus (their source kept). Default none',
            ),
          ),
        },
        { additionalProperties: false },
      ),
    ),
    maxPriority: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 255,
        description:
          'x-max-priority of the command queues; 0 = no priority queue. 255 (the MindBus spec) costs throughput on RabbitMQ 3.x. Default 255',
      }),
    ),
    consumerChannels: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 256,
        description:
          "Consumer channels (prefetch 1 each) on this hub's command queue: calls served at once. Default 16",
      }),
    ),
    dispatchAny: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 255 }), {
        description:
          'Service names (or ns.*) sent to cmd.<ns>.any: the broker picks the hub among those serving it. Default none',
      }),
    ),
    maxExpirationMs: Type.Optional(
      Type.Integer({
        minimum: 1,
        description: "Cap of a command's expiration in the broker, ms. Default 3600000",
      }),
    ),
    heartbeatS: Type.Optional(
      Type.Integer({ minimum: 0, maximum: 600, description: 'AMQP heartbeat, s. Default 30' }),
    ),
    dedupWindowMs: Type.Optional(
      Type.Integer({
        minimum: 1,
        description:
          'How long the ids of commands served here are kept, so a redelivered one never runs twice, ms. Default 600000',
      }),
    ),
    dedupResultBytes: Type.Optional(
      Type.Integer({
        minimum: 0,
        description:
          'Bytes of results (as sent) kept to answer redelivered commands; past it a duplicate gets E_CONFLICT instead (it still does not run). Default 33554432 (32 MiB)',
      }),
    ),
  },
  {
    additionalProperties: false,
    description: 'Cluster mode: calls, events and control signals between hubs over RabbitMQ',
  },
)
export type MindBusConfigFile = Static<typeof MindBusConfigSchema>

/** The MindBus settings, resolved; cluster mode is on only when a URL is set. */
export interface MindBusSettings {
  url: string
  roles: string[]
  exportEvents: string[]
  importEvents: string[]
  maxPriority: number | undefined
  consumerChannels: number | undefined
  dispatchAny: string[]
  maxExpirationMs: number | undefined
  heartbeatS: number | undefined
  dedupWindowMs: number | undefined
  dedupResultBytes: number | undefined
}

/** The environment variables of this section. */
export const MINDBUS_ENV = ['CORE_AMQP_URL', 'CORE_NODE_ROLES'] as const

/** Their schema, merged into the hub's environment schema. */
export const MindBusEnvSchema = {
  CORE_AMQP_URL: Type.Optional(Type.String({ pattern: AMQP_URL_PATTERN })),
  CORE_NODE_ROLES: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_,\\s-]+$' })),
}

/** Messages for a bad value of one of them. */
export const MINDBUS_ENV_MESSAGES: Record<string, string> = {
  CORE_AMQP_URL: 'must start with amqp:// or amqps:// (e.g. amqp://guest:guest@127.0.0.1:5672)',
  CORE_NODE_ROLES: 'must be a comma-separated list of roles (letters, digits, "_" or "-")',
}

/**
 * Resolves the `mindbus` section and its environment overrides (`CORE_AMQP_URL` over
 * `mindbus.url`, `CORE_NODE_ROLES` over `mindbus.roles`).
 * @returns The settings, or `undefined` when no AMQP URL is set (no cluster mode).
 * @throws {@link @core/contracts!CoreError} `E_VALIDATION` naming `CORE_NODE_ROLES` for a role that is too long.
 */
export function resolveMindBusSettings(
  file: MindBusConfigFile | undefined,
  env: { CORE_AMQP_URL?: string | undefined; CORE_NODE_ROLES?: string | undefined },
): MindBusSettings | undefined {
  const url = env.CORE_AMQP_URL ?? file?.url
  if (url === undefined) return undefined
  const roles =
    env.CORE_NODE_ROLES === undefined
      ? [...(file?.roles ?? [])]
      : env.CORE_NODE_ROLES.split(',')
          .map((r) => r.trim())
          .filter((r) => r !== '')
  const tooLong = roles.find((r) => r.length > 64)
  if (tooLong !== undefined) {
    throw new CoreError(
      'E_VALIDATION',
      `Invalid environment: CORE_NODE_ROLES has the role "${tooLong.slice(0, 20)}…", longer than 64 characters`,
      { details: { errors: [{ variable: 'CORE_NODE_ROLES', keyword: 'maxLength' }] } },
    )
  }
  return {
    url,
    roles,
    exportEvents: [...(file?.events?.export ?? [])],
    importEvents: [...(file?.events?.import ?? [])],
    maxPriority: file?.maxPriority,
    consumerChannels: file?.consumerChannels,
    dispatchAny: [...(file?.dispatchAny ?? [])],
    maxExpirationMs: file?.maxExpirationMs,
    heartbeatS: file?.heartbeatS,
    dedupWindowMs: file?.dedupWindowMs,
    dedupResultBytes: file?.dedupResultBytes,
  }
}

/** `amqp://host:5672/vhost` without the credentials. */
export function redactAmqpUrl(url: string): string {
  return url.replace(/^(amqps?:\/\/)[^@/]*@/, '$1')
}
