import { PLUGIN_NAME_PATTERN } from '@core/contracts'
import Type, { type Static } from 'typebox'
import { HttpConfigSchema } from './http-config.js'
import { MindBusConfigSchema } from './mindbus-config.js'
import { MqttConfigSchema } from './mqtt-config.js'
import { NodeConfigSchema } from './node-config.js'
import { PolicyConfigSchema } from './policy-config.js'
import { RedisConfigSchema } from './redis-config.js'
import { SigningConfigSchema } from './signing-config.js'

/** pino's levels, plus `silent`. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

/**
 * The shortest `CORE_ADMIN_TOKEN` accepted; it must also hold 128 bits of estimated entropy
 * (`assertStrongAdminToken` of `@core/http`).
 */
export const MIN_ADMIN_TOKEN_LENGTH = 32
/** SQLite's `synchronous` settings the hub offers (the journal is always WAL). */
export const SQLITE_SYNCHRONOUS = ['NORMAL', 'FULL'] as const
export type SqliteSynchronous = (typeof SQLITE_SYNCHRONOUS)[number]

/** `postgres://` or `postgresql://`. */
export const DATABASE_URL_PATTERN = '^postgres(ql)?://'

/**
 * The hub config file (JSON or YAML). Relative paths in it are relative to the file's folder.
 * Every field is optional; the environment overrides `dataDir`, `databaseUrl`, `logLevel`,
 * `http.host`, `http.port`, `http.auth` and `mqtt.url` (see {@link ENV_OVERRIDES}).
 */
export const HubConfigSchema = Type.Object(
  {
    $schema: Type.Optional(Type.String({ description: 'A JSON Schema URL for editors; ignored' })),
    dataDir: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          'Folder holding the SQLite file hub.db (created if missing). Env CORE_DATA_DIR. Default ./data',
      }),
    ),
    databaseUrl: Type.Optional(
      Type.String({
        pattern: DATABASE_URL_PATTERN,
        description:
          'postgres://user:password@host:port/database: store data in PostgreSQL instead of SQLite. Env CORE_DATABASE_URL',
      }),
    ),
    sqlite: Type.Optional(
      Type.Object(
        {
          synchronous: Type.Optional(
            Type.Enum([...SQLITE_SYNCHRONOUS], {
              description:
                'SQLite PRAGMA synchronous (WAL journal): NORMAL (default; a power cut may lose the last commits, never corrupts) or FULL (every commit survives a power cut; about 3x slower writes). Env CORE_SQLITE_SYNCHRONOUS',
            }),
          ),
        },
        { additionalProperties: false, description: 'The embedded SQLite storage' },
      ),
    ),
    databaseSchema: Type.Optional(
      Type.String({
        pattern: '^[A-Za-z_][A-Za-z0-9_]{0,62}$',
        description: 'PostgreSQL schema of the hub tables. Default public',
      }),
    ),
    logLevel: Type.Optional(
      Type.Enum([...LOG_LEVELS], {
        description: 'Log level of the kernel and plugins (pino). Env CORE_LOG_LEVEL. Default info',
      }),
    ),
    pluginDirs: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), {
        description: 'Folders whose subfolders with a package.json carrying corePlugin are plugins',
      }),
    ),
    plugins: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), {
        description: 'Explicit plugins: package folders (relative to this file) or package names',
      }),
    ),
    required: Type.Optional(
      Type.Array(Type.String({ pattern: PLUGIN_NAME_PATTERN }), {
        description: 'Plugins that must start, else the hub does not boot',
      }),
    ),
    config: Type.Optional(
      Type.Record(Type.String({ pattern: PLUGIN_NAME_PATTERN }), Type.Unknown(), {
        description:
          "Per-plugin config keyed by plugin name, checked against each plugin's manifest config schema",
      }),
    ),
    redis: Type.Optional(RedisConfigSchema),
    persistState: Type.Optional(
      Type.Array(Type.String({ pattern: PLUGIN_NAME_PATTERN }), {
        description:
          'State namespaces kept in storage so that they survive restarts (e.g. ["devices"])',
      }),
    ),
    lifecycleTimeoutMs: Type.Optional(
      Type.Integer({
        minimum: 1,
        description: 'Timeout of each plugin lifecycle step, ms. Default 10000',
      }),
    ),
    shutdownTimeoutMs: Type.Optional(
      Type.Integer({
        minimum: 1,
        description: 'Overall deadline of a graceful stop, ms. Default 30000',
      }),
    ),
    watch: Type.Optional(
      Type.Boolean({ description: 'Reload a plugin when its files change (dev mode)' }),
    ),
    http: Type.Optional(HttpConfigSchema),
    mqtt: Type.Optional(MqttConfigSchema),
    node: Type.Optional(NodeConfigSchema),
    mindbus: Type.Optional(MindBusConfigSchema),
    policy: Type.Optional(PolicyConfigSchema),
    signing: Type.Optional(SigningConfigSchema),
  },
  { additionalProperties: false, title: 'HubConfig' },
)
export type HubConfigFile = Static<typeof HubConfigSchema>
