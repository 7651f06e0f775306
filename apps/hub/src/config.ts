import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { dirname, extname, isAbsolute, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { assertPattern, CoreError, PLUGIN_NAME_PATTERN, validationError } from '@core/contracts'
import { assertStrongAdminToken, isLoopbackHost } from '@core/http'
import { DEFAULT_MQTT_PREFIX, DEFAULT_MQTT_URL } from '@core/mqtt'
import { Ajv2020 } from 'ajv/dist/2020.js'
import Type, { type Static } from 'typebox'
import { parse as parseYaml } from 'yaml'
import { NodeConfigSchema, type NodeSettings, resolveNodeSettings } from './node-config.js'
import {
  REDIS_ENV_MESSAGES,
  RedisConfigSchema,
  RedisEnvSchema,
  type RedisSettings,
  resolveRedisSettings,
} from './redis-config.js'

/** pino's levels, plus `silent`. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

/**
 * The environment variables that override a config field, and the field each overrides.
 * `CORE_CONFIG` (which file) and `CORE_ADMIN_TOKEN` (a credential, never in a file) are read too.
 */
export const ENV_OVERRIDES = {
  CORE_DATA_DIR: 'dataDir',
  CORE_DATABASE_URL: 'databaseUrl',
  CORE_LOG_LEVEL: 'logLevel',
  CORE_HTTP_HOST: 'http.host',
  CORE_HTTP_PORT: 'http.port',
  CORE_AUTH: 'http.auth',
  CORE_SQLITE_SYNCHRONOUS: 'sqlite.synchronous',
  CORE_MQTT_URL: 'mqtt.url',
  CORE_REDIS_URL: 'redis.url',
  CORE_STORAGE_CACHE: 'redis.storageCache',
} as const

/** Where an overridable setting's value came from. */
export type ConfigOrigin = 'default' | 'file' | 'env'

/** The hub's HTTP address when neither the file nor the environment names one. */
export const DEFAULT_HTTP_HOST = '127.0.0.1'
/** The hub's HTTP port when neither the file nor the environment names one. */
export const DEFAULT_HTTP_PORT = 8080
/** How long the boot waits for the first broker connection before going on without it, ms. */
export const DEFAULT_MQTT_START_WAIT_MS = 2_000
/**
 * The shortest `CORE_ADMIN_TOKEN` accepted; it must also hold 128 bits of estimated entropy
 * (`assertStrongAdminToken` of `@core/http`).
 */
export const MIN_ADMIN_TOKEN_LENGTH = 32
/** SQLite's `synchronous` settings the hub offers (the journal is always WAL). */
export const SQLITE_SYNCHRONOUS = ['NORMAL', 'FULL'] as const
export type SqliteSynchronous = (typeof SQLITE_SYNCHRONOUS)[number]

/** The file names looked for beside the app when neither `--config` nor `CORE_CONFIG` is given. */
export const DEFAULT_CONFIG_FILES = [
  'hub.config.json',
  'hub.config.yaml',
  'hub.config.yml',
] as const

const DATABASE_URL_PATTERN = '^postgres(ql)?://'
const MQTT_URL_PATTERN = '^(mqtts?|tcp|tls|ssl|wss?)://'
/** An MQTT topic without wildcards, a leading `$` or `/`, or a trailing `/`. */
const MQTT_PREFIX_PATTERN = '^[^/$#+\\u0000]([^#+\\u0000]*[^/#+\\u0000])?$'
const HOST_PATTERN = '^[^\\s/]+$'
const Patterns = (description: string) =>
  Type.Array(Type.String({ minLength: 1, maxLength: 255 }), { description })
const PatternSwitch = (description: string) =>
  Type.Union([Type.Boolean(), Patterns(description)], { description })

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
    http: Type.Optional(
      Type.Object(
        {
          host: Type.Optional(
            Type.String({
              minLength: 1,
              pattern: HOST_PATTERN,
              description: 'Address the HTTP API listens on. Env CORE_HTTP_HOST. Default 127.0.0.1',
            }),
          ),
          port: Type.Optional(
            Type.Integer({
              minimum: 0,
              maximum: 65535,
              description:
                'TCP port of the HTTP API; 0 picks a free one. Env CORE_HTTP_PORT. Default 8080',
            }),
          ),
          auth: Type.Optional(
            Type.Boolean({
              description:
                'Require a bearer token on every /api route. false only on a loopback host. Env CORE_AUTH (on/off). Default true',
            }),
          ),
          publicRoutes: Type.Optional(
            Type.Object(
              {
                health: Type.Optional(
                  Type.Boolean({ description: 'GET /health without a token. Default true' }),
                ),
                metrics: Type.Optional(
                  Type.Boolean({
                    description:
                      'GET /metrics without a token. Default false: a token with metrics:read (or admin) is needed, except from a loopback client (see loopbackMeta)',
                  }),
                ),
                docs: Type.Optional(
                  Type.Boolean({
                    description:
                      'GET /openapi.json and /docs without a token. Default false: a token with docs:read (or admin) is needed, except from a loopback client (see loopbackMeta)',
                  }),
                ),
              },
              { additionalProperties: false },
            ),
          ),
          loopbackMeta: Type.Optional(
            Type.Boolean({
              description:
                'Let loopback clients (127.0.0.0/8, ::1) read /metrics, /openapi.json and /docs without a token. Turn off behind a reverse proxy on the same machine. Default true',
            }),
          ),
          authFailures: Type.Optional(
            Type.Object(
              {
                max: Type.Optional(
                  Type.Integer({
                    minimum: 1,
                    description:
                      'Failed authentications allowed per client address and window; the next get 429 with Retry-After. Default 20',
                  }),
                ),
                windowMs: Type.Optional(
                  Type.Integer({ minimum: 1, description: 'The window, ms. Default 60000' }),
                ),
              },
              { additionalProperties: false },
            ),
          ),
        },
        { additionalProperties: false, description: 'The HTTP API (@core/http)' },
      ),
    ),
    mqtt: Type.Optional(
      Type.Object(
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
      ),
    ),
    node: Type.Optional(NodeConfigSchema),
  },
  { additionalProperties: false, title: 'HubConfig' },
)
export type HubConfigFile = Static<typeof HubConfigSchema>

/** Where the storage lives. */
export type StorageConfig =
  | { kind: 'sqlite'; filename: string; synchronous: SqliteSynchronous }
  | { kind: 'postgres'; url: string; schema: string | undefined }

/** The hub's config, resolved: defaults applied, overrides merged, paths absolute. */
export interface HubConfig {
  /** The config file read (absolute), or `undefined` when none exists and the defaults apply. */
  configFile: string | undefined
  /** Absolute data folder. */
  dataDir: string
  storage: StorageConfig
  logLevel: LogLevel
  /** Absolute plugin folders. */
  pluginDirs: string[]
  /** Explicit plugins: absolute folders, or package names. */
  plugins: string[]
  required: string[]
  /** Per-plugin config keyed by plugin name. */
  pluginConfig: Record<string, unknown>
  /** State namespaces persisted in storage. */
  persistState: string[]
  lifecycleTimeoutMs: number | undefined
  shutdownTimeoutMs: number | undefined
  watch: boolean
  /** The HTTP API. */
  http: HttpSettings
  /** The MQTT bridge. */
  mqtt: MqttSettings
  /** Redis (shared state, storage cache), or `undefined` when no Redis URL is set. */
  redis: RedisSettings | undefined
  /** This hub in the node registry (`node` section, `CORE_NODE_LABELS`, `CORE_ETCD_URL`). */
  node: NodeSettings
  /** `CORE_ADMIN_TOKEN`: a fixed admin credential (≥ 32 characters) for scripts and tests. */
  adminToken: string | undefined
  /** Where each overridable field came from. */
  origin: Record<OverridableField, ConfigOrigin>
}

/** The fields the environment can override, as named in {@link HubConfig.origin}. */
export type OverridableField =
  | 'dataDir'
  | 'databaseUrl'
  | 'logLevel'
  | 'httpHost'
  | 'httpPort'
  | 'auth'
  | 'sqliteSynchronous'
  | 'mqttUrl'

/** The HTTP API settings, resolved. */
export interface HttpSettings {
  host: string
  /** 0 picks a free port. */
  port: number
  auth: boolean
  publicRoutes: { health: boolean; metrics: boolean; docs: boolean }
  /** Loopback clients read /metrics and the docs without a token. */
  loopbackMeta: boolean
  /** Failed authentications per address and window before 429. */
  authFailures: { max: number; windowMs: number }
}

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
  startWaitMs: number
}

/** Options of {@link loadHubConfig}. */
export interface LoadHubConfigOptions {
  /** Command-line arguments after the script (`--config <file>`, `--watch`). @defaultValue [] */
  argv?: string[]
  /** @defaultValue process.env */
  env?: Record<string, string | undefined>
  /** Base of relative paths given in the environment or on the command line. @defaultValue process.cwd() */
  cwd?: string
  /** The app folder: where the default config file and `plugins/` are. @defaultValue apps/hub */
  appDir?: string
}

/** The app folder (`apps/hub`), from this module's location (`src/` or `dist/`). */
export const APP_DIR: string = resolve(dirname(fileURLToPath(import.meta.url)), '..')

export const USAGE = `Usage: core-hub [--config <file>] [--watch]

  -c, --config <file>  hub config, JSON or YAML (env CORE_CONFIG; default hub.config.json
                       or hub.config.yaml beside the app)
  -w, --watch          reload a plugin when its files change
  -h, --help           show this help

Environment (overrides the file):
  CORE_CONFIG        the config file
  CORE_HTTP_HOST     HTTP address (default 127.0.0.1)
  CORE_HTTP_PORT     HTTP port (default 8080; 0 picks a free one)
  CORE_AUTH          on (default) or off; off only when HTTP listens on a loopback address
  CORE_ADMIN_TOKEN   a fixed admin bearer token, at least 128 bits of entropy
                     (make one with: openssl rand -hex 32)
  CORE_MQTT_URL      MQTT broker (default mqtt://127.0.0.1:1883)
  CORE_DATA_DIR      folder of the SQLite file hub.db (default ./data)
  CORE_DATABASE_URL  postgres://… to store data in PostgreSQL instead of SQLite
  CORE_SQLITE_SYNCHRONOUS  NORMAL (default) or FULL (every commit survives a power cut)
  CORE_REDIS_URL     redis://… to keep the state in Redis, shared with other hubs
  CORE_STORAGE_CACHE redis: serve storage point reads from a Redis cache (needs CORE_REDIS_URL)
  CORE_LOG_LEVEL     fatal, error, warn, info (default), debug, trace, silent
  CORE_NODE_LABELS   this hub's labels in the node registry, e.g. room=kitchen,floor=1
  CORE_ETCD_URL      etcd (http://127.0.0.1:2379) to share the node registry with other hubs`

/** What the command line asked for. */
export interface HubArgs {
  config: string | undefined
  watch: boolean
  help: boolean
}

/**
 * Parses the hub's command line.
 * @throws {@link CoreError} `E_VALIDATION` for an unknown option or a missing value, with the usage.
 */
export function parseHubArgs(argv: readonly string[]): HubArgs {
  try {
    const { values } = parseArgs({
      args: [...argv],
      options: {
        config: { type: 'string', short: 'c' },
        watch: { type: 'boolean', short: 'w' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    })
    return { config: values.config, watch: values.watch ?? false, help: values.help ?? false }
  } catch (error) {
    throw new CoreError('E_VALIDATION', `${(error as Error).message}\n\n${USAGE}`, {
      cause: error,
      details: { argv },
    })
  }
}

/**
 * Loads the hub config: the file named by `--config`, else `CORE_CONFIG`, else the first of
 * {@link DEFAULT_CONFIG_FILES} in the app folder (none: defaults only); validated against
 * {@link HubConfigSchema}; then the variables of {@link ENV_OVERRIDES} override it (validated
 * too), and `CORE_ADMIN_TOKEN` is read.
 *
 * Defaults: `dataDir` `./data` (relative to `cwd`), SQLite at `<dataDir>/hub.db` (PostgreSQL
 * when a database URL is set), `logLevel` `info`, `pluginDirs` `[<appDir>/plugins]` when neither
 * `pluginDirs` nor `plugins` is set; SQLite `synchronous` `NORMAL`; HTTP on `127.0.0.1:8080`
 * with auth on, `/health` public and `/metrics`, `/docs` for loopback clients or tokens with
 * `metrics:read` / `docs:read`, 20 failed authentications per address and minute before 429;
 * the MQTT bridge on `mqtt://127.0.0.1:1883`, prefix `core`, no events forwarded, every state
 * key mirrored, no service callable over MQTT.
 *
 * @throws {@link CoreError} `E_NOT_FOUND` when the named config file does not exist;
 *   `E_VALIDATION` when it cannot be parsed (naming the file and the parser's message), when a
 *   field is wrong (naming the file and every failing field), or an environment variable is
 *   wrong (naming the variable), when auth is off while HTTP listens on an address that is not
 *   loopback, or for a bad command line.
 */
export async function loadHubConfig(options: LoadHubConfigOptions = {}): Promise<HubConfig> {
  const env = options.env ?? process.env
  const cwd = options.cwd ?? process.cwd()
  const appDir = options.appDir ?? APP_DIR
  const args = parseHubArgs(options.argv ?? [])

  let configFile: string | undefined
  const named = args.config ?? nonEmpty(env.CORE_CONFIG)
  if (named !== undefined) {
    configFile = resolve(cwd, named)
    if (!existsSync(configFile)) {
      const via = args.config === undefined ? 'CORE_CONFIG' : '--config'
      throw new CoreError(
        'E_NOT_FOUND',
        `Hub config file ${configFile} (from ${via}) does not exist`,
        {
          details: { path: configFile },
        },
      )
    }
  } else {
    configFile = DEFAULT_CONFIG_FILES.map((f) => resolve(appDir, f)).find((f) => existsSync(f))
  }

  const file = configFile === undefined ? {} : await readConfigFile(configFile)
  const base = configFile === undefined ? cwd : dirname(configFile)
  const fromEnv = readEnvironment(env)

  const pick = <T>(fromEnvValue: T | undefined, fromFile: T | undefined, fallback: T) => ({
    value: fromEnvValue ?? fromFile ?? fallback,
    origin: (fromEnvValue !== undefined
      ? 'env'
      : fromFile !== undefined
        ? 'file'
        : 'default') as ConfigOrigin,
  })
  const dataDir =
    fromEnv.CORE_DATA_DIR !== undefined
      ? resolve(cwd, fromEnv.CORE_DATA_DIR)
      : file.dataDir !== undefined
        ? resolve(base, file.dataDir)
        : resolve(cwd, 'data')
  const databaseUrl = pick(fromEnv.CORE_DATABASE_URL, file.databaseUrl, undefined)
  const logLevel = pick(fromEnv.CORE_LOG_LEVEL, file.logLevel, 'info' as LogLevel)
  const host = pick(fromEnv.CORE_HTTP_HOST, file.http?.host, DEFAULT_HTTP_HOST)
  const port = pick(
    fromEnv.CORE_HTTP_PORT === undefined ? undefined : Number(fromEnv.CORE_HTTP_PORT),
    file.http?.port,
    DEFAULT_HTTP_PORT,
  )
  const auth = pick(
    fromEnv.CORE_AUTH === undefined ? undefined : fromEnv.CORE_AUTH === 'on',
    file.http?.auth,
    true,
  )
  const synchronous = pick(
    fromEnv.CORE_SQLITE_SYNCHRONOUS as SqliteSynchronous | undefined,
    file.sqlite?.synchronous,
    'NORMAL' as SqliteSynchronous,
  )
  const mqttUrl = pick(fromEnv.CORE_MQTT_URL, file.mqtt?.url, DEFAULT_MQTT_URL)

  if (!auth.value && !isLoopbackHost(host.value)) {
    const authFrom =
      auth.origin === 'env' ? 'CORE_AUTH=off' : `http.auth false in ${configFile ?? 'the config'}`
    const hostFrom =
      host.origin === 'env'
        ? 'CORE_HTTP_HOST'
        : host.origin === 'file'
          ? `http.host in ${configFile ?? 'the config'}`
          : 'the default'
    throw new CoreError(
      'E_VALIDATION',
      `HTTP auth is off (${authFrom}) but the hub would listen on ${host.value} (${hostFrom}), which is not a loopback address: anyone on the network could control the hub. Turn auth on (CORE_AUTH=on), or listen on 127.0.0.1, ::1 or localhost`,
      { details: { host: host.value, auth: false } },
    )
  }

  const mqttEvents = file.mqtt?.events ?? []
  const checkPatterns = (value: boolean | string[] | undefined, field: string) => {
    if (!Array.isArray(value)) return
    for (const [i, p] of value.entries()) {
      try {
        assertPattern(p, `mqtt.${field}[${i}]`)
      } catch (error) {
        throw new CoreError(
          'E_VALIDATION',
          `Invalid hub config file ${configFile}: /mqtt/${field}/${i} ${(error as Error).message}`,
          { cause: error, details: { path: configFile, field: `/mqtt/${field}/${i}` } },
        )
      }
    }
  }
  checkPatterns(mqttEvents, 'events')
  checkPatterns(file.mqtt?.state, 'state')
  checkPatterns(file.mqtt?.calls, 'calls')

  const redis = resolveRedisSettings(file.redis, fromEnv)
  if (redis !== undefined && (file.persistState?.length ?? 0) > 0) {
    throw new CoreError(
      'E_VALIDATION',
      'persistState cannot be used with Redis (CORE_REDIS_URL or redis.url): the state is kept in Redis, shared by the hubs, instead. Remove persistState or the Redis URL',
      { details: { field: 'persistState' } },
    )
  }
  const storage: StorageConfig =
    databaseUrl.value === undefined
      ? { kind: 'sqlite', filename: resolve(dataDir, 'hub.db'), synchronous: synchronous.value }
      : { kind: 'postgres', url: databaseUrl.value, schema: file.databaseSchema }
  const plugins = (file.plugins ?? []).map((p) => (isPathLike(p) ? resolve(base, p) : p))
  const pluginDirs =
    file.pluginDirs !== undefined
      ? file.pluginDirs.map((d) => resolve(base, d))
      : file.plugins === undefined
        ? [resolve(appDir, 'plugins')]
        : []
  return {
    configFile,
    dataDir,
    storage,
    logLevel: logLevel.value,
    pluginDirs,
    plugins,
    required: file.required ?? [],
    pluginConfig: (file.config ?? {}) as Record<string, unknown>,
    persistState: file.persistState ?? [],
    lifecycleTimeoutMs: file.lifecycleTimeoutMs,
    shutdownTimeoutMs: file.shutdownTimeoutMs,
    watch: args.watch || file.watch === true,
    http: {
      host: host.value,
      port: port.value,
      auth: auth.value,
      publicRoutes: {
        health: file.http?.publicRoutes?.health ?? true,
        metrics: file.http?.publicRoutes?.metrics ?? false,
        docs: file.http?.publicRoutes?.docs ?? false,
      },
      loopbackMeta: file.http?.loopbackMeta ?? true,
      authFailures: {
        max: file.http?.authFailures?.max ?? 20,
        windowMs: file.http?.authFailures?.windowMs ?? 60_000,
      },
    },
    mqtt: {
      enabled: file.mqtt?.enabled ?? true,
      url: mqttUrl.value,
      prefix: file.mqtt?.prefix ?? DEFAULT_MQTT_PREFIX,
      username: file.mqtt?.username,
      password: file.mqtt?.password,
      events: [...mqttEvents],
      state: file.mqtt?.state ?? true,
      calls: file.mqtt?.calls ?? false,
      trustBroker: file.mqtt?.trustBroker ?? false,
      maxInFlight: file.mqtt?.maxInFlight,
      startWaitMs: file.mqtt?.startWaitMs ?? DEFAULT_MQTT_START_WAIT_MS,
    },
    redis,
    node: resolveNodeSettings(file.node, env),
    adminToken: fromEnv.CORE_ADMIN_TOKEN,
    origin: {
      dataDir:
        fromEnv.CORE_DATA_DIR !== undefined
          ? 'env'
          : file.dataDir !== undefined
            ? 'file'
            : 'default',
      databaseUrl: databaseUrl.origin,
      logLevel: logLevel.origin,
      httpHost: host.origin,
      httpPort: port.origin,
      auth: auth.origin,
      sqliteSynchronous: synchronous.origin,
      mqttUrl: mqttUrl.origin,
    },
  }
}

const ajv = new Ajv2020({ allErrors: true, strict: false })
const validateFile = ajv.compile(HubConfigSchema)
/** The variables read, as strings; an empty one counts as unset. */
const EnvSchema = Type.Object({
  CORE_DATA_DIR: Type.Optional(Type.String({ minLength: 1 })),
  CORE_DATABASE_URL: Type.Optional(Type.String({ pattern: DATABASE_URL_PATTERN })),
  CORE_LOG_LEVEL: Type.Optional(Type.Enum([...LOG_LEVELS])),
  CORE_HTTP_HOST: Type.Optional(Type.String({ pattern: HOST_PATTERN })),
  CORE_HTTP_PORT: Type.Optional(
    Type.String({
      pattern:
        '^(0|[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])$',
    }),
  ),
  CORE_AUTH: Type.Optional(Type.Enum(['on', 'off'])),
  CORE_SQLITE_SYNCHRONOUS: Type.Optional(Type.Enum([...SQLITE_SYNCHRONOUS])),
  CORE_MQTT_URL: Type.Optional(Type.String({ pattern: MQTT_URL_PATTERN })),
  CORE_ADMIN_TOKEN: Type.Optional(Type.String({ minLength: MIN_ADMIN_TOKEN_LENGTH })),
  ...RedisEnvSchema,
})
const validateEnv = ajv.compile(EnvSchema)
const ENV_MESSAGES: Record<string, string> = {
  CORE_DATABASE_URL: 'must start with postgres:// or postgresql://',
  CORE_HTTP_HOST: 'must be a host name or IP address without spaces or "/"',
  CORE_HTTP_PORT: 'must be a TCP port, a whole number from 0 to 65535 (0 picks a free port)',
  CORE_MQTT_URL:
    'must be a broker URL starting with mqtt://, mqtts://, tcp://, tls://, ws:// or wss://',
  CORE_ADMIN_TOKEN: `must be at least ${MIN_ADMIN_TOKEN_LENGTH} characters long (e.g. openssl rand -hex 32)`,
  CORE_SQLITE_SYNCHRONOUS: 'must be NORMAL or FULL',
  ...REDIS_ENV_MESSAGES,
}

async function readConfigFile(path: string): Promise<HubConfigFile> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (error) {
    throw new CoreError(
      'E_NOT_FOUND',
      `Cannot read hub config file ${path}: ${(error as Error).message}`,
      {
        cause: error,
        details: { path },
      },
    )
  }
  let data: unknown
  try {
    data = extname(path).toLowerCase() === '.json' ? JSON.parse(text) : parseYaml(text)
  } catch (error) {
    throw new CoreError(
      'E_VALIDATION',
      `Cannot parse hub config file ${path}: ${(error as Error).message.split('\n')[0]}`,
      { cause: error, details: { path } },
    )
  }
  data ??= {}
  if (typeof data !== 'object' || Array.isArray(data)) {
    throw new CoreError(
      'E_VALIDATION',
      `Invalid hub config file ${path}: the top level must be an object of settings, got ${Array.isArray(data) ? 'an array' : typeof data}`,
      { details: { path } },
    )
  }
  if (!validateFile(data)) {
    throw validationError(`hub config file ${path}`, withAllowedValues(validateFile.errors), {
      path,
    })
  }
  return data as HubConfigFile
}

function readEnvironment(env: Record<string, string | undefined>): Static<typeof EnvSchema> {
  const out: Record<string, string> = {}
  for (const name of Object.keys(EnvSchema.properties)) {
    const value = nonEmpty(env[name])
    if (value === undefined) continue
    out[name] =
      name === 'CORE_AUTH' || name === 'CORE_STORAGE_CACHE'
        ? value.trim().toLowerCase()
        : name === 'CORE_SQLITE_SYNCHRONOUS'
          ? value.trim().toUpperCase()
          : value
  }
  if (!validateEnv(out)) {
    const errors = withAllowedValues(validateEnv.errors).map((e) => {
      const variable = e.instancePath.slice(1)
      return { ...e, variable, message: ENV_MESSAGES[variable] ?? e.message }
    })
    throw new CoreError(
      'E_VALIDATION',
      `Invalid environment: ${errors.map((e) => `${e.variable} ${e.message}`).join('; ')}`,
      {
        // Never the values: CORE_ADMIN_TOKEN is a secret, CORE_DATABASE_URL may hold a password.
        details: {
          errors: errors.map((e) => ({
            variable: e.variable,
            keyword: e.keyword,
            message: e.message,
          })),
        },
      },
    )
  }
  // Refused at start, before anything opens: a guessable admin token is an open door.
  if (out.CORE_ADMIN_TOKEN !== undefined) {
    try {
      assertStrongAdminToken(out.CORE_ADMIN_TOKEN, 'CORE_ADMIN_TOKEN')
    } catch (error) {
      throw new CoreError('E_VALIDATION', `Invalid environment: ${(error as Error).message}`, {
        cause: error,
        details: { errors: [{ variable: 'CORE_ADMIN_TOKEN', keyword: 'entropy' }] },
      })
    }
  }
  return out
}

/** Ajv's `must be equal to one of the allowed values`, with the values. */
function withAllowedValues(
  errors:
    | ReadonlyArray<{
        instancePath: string
        keyword: string
        message?: string
        params?: Record<string, unknown>
      }>
    | null
    | undefined,
): Array<{
  instancePath: string
  keyword: string
  message: string
  params: Record<string, unknown>
}> {
  return (errors ?? []).map((e) => {
    const params = e.params ?? {}
    let message = e.message ?? 'is invalid'
    if (e.keyword === 'enum' && Array.isArray(params.allowedValues))
      message += ` (${params.allowedValues.join(', ')})`
    if (e.keyword === 'additionalProperties' && typeof params.additionalProperty === 'string') {
      message =
        e.instancePath === '/config'
          ? `has "${params.additionalProperty}", which is not a plugin name (a lower-case letter first, then lower-case letters, digits or "-")`
          : `has an unknown setting "${params.additionalProperty}"`
    }
    if (e.keyword === 'pattern' && /^\/(required|persistState)\//.test(e.instancePath)) {
      message =
        'must be a plugin name: a lower-case letter first, then lower-case letters, digits or "-"'
    }
    if (e.keyword === 'pattern' && e.instancePath === '/databaseUrl')
      message = 'must start with postgres:// or postgresql://'
    if (e.keyword === 'pattern' && e.instancePath === '/mqtt/url')
      message =
        'must be a broker URL starting with mqtt://, mqtts://, tcp://, tls://, ws:// or wss://'
    if (e.keyword === 'pattern' && e.instancePath === '/mqtt/prefix')
      message =
        'must be an MQTT topic without "+" or "#", not starting with "$" or "/" and not ending with "/"'
    if (e.keyword === 'pattern' && e.instancePath === '/http/host')
      message = 'must be a host name or IP address without spaces or "/"'
    return { instancePath: e.instancePath, keyword: e.keyword, message, params }
  })
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value
}

function isPathLike(spec: string): boolean {
  return spec.startsWith('.') || isAbsolute(spec)
}
