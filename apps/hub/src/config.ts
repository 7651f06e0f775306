import { existsSync } from 'node:fs'
import { dirname, isAbsolute, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { assertPattern, CoreError } from '@core/contracts'
import { isLoopbackHost } from '@core/http'
import { nonEmpty, readConfigFile, readEnvironment } from './config-read.js'
import type { LogLevel, SqliteSynchronous } from './config-schema.js'
import { DEFAULT_HTTP_HOST, DEFAULT_HTTP_PORT, type HttpSettings } from './http-config.js'
import { type MindBusSettings, resolveMindBusSettings } from './mindbus-config.js'
import {
  DEFAULT_MQTT_PREFIX,
  DEFAULT_MQTT_START_WAIT_MS,
  DEFAULT_MQTT_URL,
  type MqttSettings,
} from './mqtt-config.js'
import { type NodeSettings, resolveNodeSettings } from './node-config.js'
import { type HubPolicy, resolvePolicy } from './policy-config.js'
import { type RedisSettings, resolveRedisSettings } from './redis-config.js'
import { resolveSigningSettings, type SigningSettings } from './signing-config.js'

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
  CORE_AMQP_URL: 'mindbus.url',
  CORE_NODE_ROLES: 'mindbus.roles',
  CORE_POLICY: 'policy',
} as const

/** Where an overridable setting's value came from. */
export type ConfigOrigin = 'default' | 'file' | 'env'

/** The file names looked for beside the app when neither `--config` nor `CORE_CONFIG` is given. */
export const DEFAULT_CONFIG_FILES = [
  'hub.config.json',
  'hub.config.yaml',
  'hub.config.yml',
] as const

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
  /** Cluster mode (`mindbus` section, `CORE_AMQP_URL`), or `undefined` when no AMQP URL is set. */
  mindbus: MindBusSettings | undefined
  /** Signed messages (`signing` section), or `undefined` without keys. */
  signing: SigningSettings | undefined
  /** `CORE_ADMIN_TOKEN`: a fixed admin credential (≥ 32 characters) for scripts and tests. */
  adminToken: string | undefined
  /** The operator policy (`policy`, `CORE_POLICY`), validated; `undefined` without one. */
  policy: HubPolicy | undefined
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
  CORE_ETCD_URL      etcd (http://127.0.0.1:2379) to share the node registry with other hubs
  CORE_AMQP_URL      RabbitMQ (amqp://guest:guest@127.0.0.1:5672): cluster mode, calls, events
                     and control signals between hubs (MindBus)
  CORE_NODE_ROLES    this hub's roles for control signals ctl.<role>.*, e.g. kitchen,gateway
  CORE_POLICY        the operator policy file (JSON or YAML) narrowing what callers may do`

/** What the command line asked for. */
export interface HubArgs {
  config: string | undefined
  watch: boolean
  help: boolean
}

/**
 * Parses the hub's command line.
 * @throws {@link @core/contracts!CoreError} `E_VALIDATION` for an unknown option or a missing value, with the usage.
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
 * @throws {@link @core/contracts!CoreError} `E_NOT_FOUND` when the named config file does not exist;
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
        assertPattern(p, `${field.replaceAll('/', '.')}[${i}]`)
      } catch (error) {
        throw new CoreError(
          'E_VALIDATION',
          `Invalid hub config file ${configFile}: /${field}/${i} ${(error as Error).message}`,
          { cause: error, details: { path: configFile, field: `/${field}/${i}` } },
        )
      }
    }
  }
  checkPatterns(mqttEvents, 'mqtt/events')
  checkPatterns(file.mqtt?.state, 'mqtt/state')
  checkPatterns(file.mqtt?.calls, 'mqtt/calls')
  checkPatterns(file.mindbus?.events?.export, 'mindbus/events/export')
  checkPatterns(file.mindbus?.events?.import, 'mindbus/events/import')

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
      maxPacketBytes: file.mqtt?.maxPacketBytes,
      startWaitMs: file.mqtt?.startWaitMs ?? DEFAULT_MQTT_START_WAIT_MS,
    },
    redis,
    node: resolveNodeSettings(file.node, env),
    mindbus: resolveMindBusSettings(file.mindbus, fromEnv),
    signing: resolveSigningSettings(file.signing),
    adminToken: fromEnv.CORE_ADMIN_TOKEN,
    policy: await resolvePolicy(file.policy, nonEmpty(env.CORE_POLICY), { base, cwd, configFile }),
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

function isPathLike(spec: string): boolean {
  return spec.startsWith('.') || isAbsolute(spec)
}
