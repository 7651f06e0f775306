import { CoreError, type Logger } from '@core/contracts'
import type { MindBusSigningOptions } from '@core/mindbus'
import {
  createMemoryReplayStore,
  createRedisReplayStore,
  createSigner,
  createVerifier,
  DEFAULT_WINDOW_MS,
  type ReplayStore,
  type Signer,
  type SigningKey,
  type Verifier,
} from '@core/signing'
import { Redis } from 'ioredis'
import Type, { type Static } from 'typebox'
import type { RedisSettings } from './redis-config.js'

const KeySchema = Type.Object(
  {
    id: Type.String({
      pattern: '^[A-Za-z0-9._:-]{1,64}$',
      description: 'Key id, carried as sigkid (e.g. "hubs-2026-12")',
    }),
    alg: Type.Enum(['hmac-sha256', 'ed25519'], {
      description: 'hmac-sha256 (a shared secret) or ed25519 (a key pair)',
    }),
    secret: Type.Optional(
      Type.String({
        minLength: 32,
        description: 'hmac-sha256: the shared secret, ≥ 32 bytes (openssl rand -hex 32)',
      }),
    ),
    publicKey: Type.Optional(Type.String({ description: 'ed25519: PEM (SPKI) public key' })),
    privateKey: Type.Optional(
      Type.String({
        description: 'ed25519: PEM (PKCS #8) private key, only on the hub that signs with it',
      }),
    ),
    owner: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          'Who may sign with it: the AMQP user (user_id) of the hubs using it. Messages signed with it from another broker user are refused',
      }),
    ),
  },
  { additionalProperties: false },
)

/** The top-level `signing` section of the hub config: keys shared by MindBus and MQTT. */
export const SigningConfigSchema = Type.Object(
  {
    keys: Type.Array(KeySchema, {
      minItems: 1,
      description: 'Signing keys; two during a rotation (see docs/security.md "Signing")',
    }),
    keyId: Type.Optional(
      Type.String({
        description:
          'The key this hub signs with. Default: the first key it can sign with (an hmac-sha256 key, or an ed25519 key with privateKey)',
      }),
    ),
    windowMs: Type.Optional(
      Type.Integer({
        minimum: 1_000,
        description: "How far a message's time may be from now, ms, either way. Default 300000",
      }),
    ),
    required: Type.Optional(
      Type.Boolean({
        description:
          'Refuse unsigned MindBus messages. false only while rolling signing out to a running cluster. Default true',
      }),
    ),
    mindbus: Type.Optional(
      Type.Boolean({
        description: 'Sign and verify every MindBus message. Default true',
      }),
    ),
    mqtt: Type.Optional(
      Type.Object(
        {
          calls: Type.Optional(
            Type.Boolean({
              description:
                'Accept MQTT calls signed with a known key instead of a bearer token. Default true',
            }),
          ),
          events: Type.Optional(
            Type.Boolean({
              description: 'Sign the events published to <prefix>/events/…. Default true',
            }),
          ),
        },
        { additionalProperties: false },
      ),
    ),
  },
  {
    additionalProperties: false,
    description:
      'Signed messages between hubs (MindBus) and on MQTT: HMAC-SHA256 or Ed25519 over the RFC 8785 canonical CloudEvent, a time window and replay protection',
  },
)
export type SigningConfigFile = Static<typeof SigningConfigSchema>

/** The `signing` section, resolved. */
export interface SigningSettings {
  keys: SigningKey[]
  keyId: string
  windowMs: number
  required: boolean
  mindbus: boolean
  mqttCalls: boolean
  mqttEvents: boolean
}

/**
 * Resolves the `signing` section: keys in `@core/signing`'s form and the key this hub signs
 * with.
 * @returns The settings, or `undefined` without the section (nothing signed).
 * @throws {@link @core/contracts!CoreError} `E_VALIDATION` naming the field for a key without its secret or public
 *   key, a `keyId` that is not among the keys, or no key this hub can sign with.
 */
export function resolveSigningSettings(
  file: SigningConfigFile | undefined,
): SigningSettings | undefined {
  if (file === undefined) return undefined
  const keys = file.keys.map((k, i): SigningKey => {
    const owner = k.owner === undefined ? {} : { owner: k.owner }
    if (k.alg === 'hmac-sha256') {
      if (k.secret === undefined)
        throw invalid(`signing/keys/${i}/secret`, `key "${k.id}" (hmac-sha256) needs a secret`)
      return { id: k.id, algorithm: 'hmac-sha256', secret: k.secret, ...owner }
    }
    if (k.publicKey === undefined)
      throw invalid(`signing/keys/${i}/publicKey`, `key "${k.id}" (ed25519) needs a publicKey`)
    return {
      id: k.id,
      algorithm: 'ed25519',
      publicKey: k.publicKey,
      ...(k.privateKey === undefined ? {} : { privateKey: k.privateKey }),
      ...owner,
    }
  })
  const canSign = (k: SigningKey): boolean =>
    k.algorithm === 'hmac-sha256' || k.privateKey !== undefined
  const keyId = file.keyId ?? keys.find(canSign)?.id
  const chosen = keys.find((k) => k.id === keyId)
  if (keyId === undefined || chosen === undefined || !canSign(chosen)) {
    throw invalid(
      'signing/keyId',
      keyId === undefined
        ? 'no key this hub can sign with: give an hmac-sha256 key or an ed25519 key with its privateKey'
        : `"${keyId}" is not a key this hub can sign with (it must be among signing.keys, with its secret or privateKey)`,
    )
  }
  return {
    keys,
    keyId,
    windowMs: file.windowMs ?? DEFAULT_WINDOW_MS,
    required: file.required ?? true,
    mindbus: file.mindbus ?? true,
    mqttCalls: file.mqtt?.calls ?? true,
    mqttEvents: file.mqtt?.events ?? true,
  }
}

/** What the hub hands to MindBus and the MQTT bridge. */
export interface HubSigning {
  /** The `signing` option of `createMindBus`, or `undefined` when MindBus is not signed. */
  readonly mindbus: MindBusSigningOptions | undefined
  /** The `signing` option of `createMqttBridge`. */
  readonly mqtt: { verifier?: Verifier; signer?: Signer }
  /** Closes the Redis connection of the replay store. Idempotent. */
  close(): Promise<void>
}

/**
 * Builds the hub's signers and verifiers. The replay store is Redis (`<keyPrefix>replay:`)
 * when the hub has `CORE_REDIS_URL` / `redis.url`, so a message replayed to another hub of the
 * cluster is caught; otherwise in memory (this hub only).
 * @throws {@link @core/contracts!CoreError} `E_VALIDATION` for a malformed key.
 */
export function openHubSigning(
  settings: SigningSettings | undefined,
  redis: RedisSettings | undefined,
  logger: Logger,
): HubSigning | undefined {
  if (settings === undefined) return undefined
  let client: Redis | undefined
  let replay: ReplayStore
  if (redis === undefined) replay = createMemoryReplayStore()
  else {
    client = new Redis(redis.url, { maxRetriesPerRequest: 1, enableOfflineQueue: true })
    client.on('error', (err: unknown) =>
      logger.warn({ err }, 'signing: Redis replay store error (reconnecting)'),
    )
    replay = createRedisReplayStore({ redis: client, keyPrefix: `${redis.keyPrefix}replay:` })
  }
  const base = { keys: settings.keys, windowMs: settings.windowMs }
  const mqtt: { verifier?: Verifier; signer?: Signer } = {}
  if (settings.mqttCalls) mqtt.verifier = createVerifier({ ...base, replay })
  if (settings.mqttEvents)
    mqtt.signer = createSigner({ keys: settings.keys, keyId: settings.keyId })
  let closed: Promise<void> | undefined
  return {
    mindbus: settings.mindbus
      ? { ...base, keyId: settings.keyId, replay, required: settings.required }
      : undefined,
    mqtt,
    close() {
      closed ??=
        client === undefined
          ? Promise.resolve()
          : client.quit().then(
              () => undefined,
              () => undefined,
            )
      return closed
    },
  }
}

function invalid(field: string, rule: string): CoreError {
  return new CoreError('E_VALIDATION', `Invalid hub config: ${field}: ${rule}`, {
    details: { field },
  })
}

/**
 * The signing part of the startup summary, e.g. `signed with hubs-2026-12 (2 keys) · on MindBus,
 * MQTT calls, MQTT events · replay store Redis`, or `messages unsigned (no "signing" section)`.
 *
 * @param settings - The resolved `signing` section, or `undefined`.
 * @param redis - The hub's Redis settings (the replay store is Redis when set, else memory).
 * @param mindbus - Whether the hub runs MindBus (signing there applies only then).
 */
export function describeSigning(
  settings: SigningSettings | undefined,
  redis: RedisSettings | undefined,
  mindbus: boolean,
): string {
  if (settings === undefined) return 'messages unsigned (no "signing" section)'
  const keys = `${settings.keys.length} key${settings.keys.length === 1 ? '' : 's'}`
  const where = [
    settings.mindbus && mindbus ? 'MindBus' : undefined,
    settings.mqttCalls ? 'MQTT calls' : undefined,
    settings.mqttEvents ? 'MQTT events' : undefined,
  ].filter((w) => w !== undefined)
  const on = where.length === 0 ? 'on nothing (every switch is off)' : `on ${where.join(', ')}`
  // `required: false` (a roll-out) lets unsigned MindBus messages through.
  const required =
    settings.required || !(settings.mindbus && mindbus)
      ? ''
      : ', unsigned MindBus messages accepted'
  return `signed with ${settings.keyId} (${keys}) ${on}${required} · replay store ${redis === undefined ? 'memory' : 'Redis'}`
}
