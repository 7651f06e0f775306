import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { dirname, extname, isAbsolute, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { CoreError, PLUGIN_NAME_PATTERN, validationError } from '@core/contracts'
import { Ajv2020 } from 'ajv/dist/2020.js'
import Type, { type Static } from 'typebox'
import { parse as parseYaml } from 'yaml'

/** pino's levels, plus `silent`. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

/** The environment variables the hub reads, and the config field each overrides. */
export const ENV_OVERRIDES = {
  CORE_DATA_DIR: 'dataDir',
  CORE_DATABASE_URL: 'databaseUrl',
  CORE_LOG_LEVEL: 'logLevel',
} as const

/** The file names looked for beside the app when neither `--config` nor `CORE_CONFIG` is given. */
export const DEFAULT_CONFIG_FILES = [
  'hub.config.json',
  'hub.config.yaml',
  'hub.config.yml',
] as const

const DATABASE_URL_PATTERN = '^postgres(ql)?://'

/**
 * The hub config file (JSON or YAML). Relative paths in it are relative to the file's folder.
 * Every field is optional; the environment overrides `dataDir`, `databaseUrl` and `logLevel`.
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
  },
  { additionalProperties: false, title: 'HubConfig' },
)
export type HubConfigFile = Static<typeof HubConfigSchema>

/** Where the storage lives. */
export type StorageConfig =
  | { kind: 'sqlite'; filename: string }
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
  /** Where each overridable field came from. */
  origin: Record<'dataDir' | 'databaseUrl' | 'logLevel', 'default' | 'file' | 'env'>
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

Environment: CORE_CONFIG, CORE_DATA_DIR (default ./data), CORE_DATABASE_URL (PostgreSQL
instead of SQLite), CORE_LOG_LEVEL (fatal, error, warn, info, debug, trace, silent).`

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
 * {@link HubConfigSchema}; then `CORE_DATA_DIR`, `CORE_DATABASE_URL` and `CORE_LOG_LEVEL`
 * override it (validated too).
 *
 * Defaults: `dataDir` `./data` (relative to `cwd`), SQLite at `<dataDir>/hub.db` (PostgreSQL
 * when a database URL is set), `logLevel` `info`, `pluginDirs` `[<appDir>/plugins]` when neither
 * `pluginDirs` nor `plugins` is set.
 *
 * @throws {@link CoreError} `E_NOT_FOUND` when the named config file does not exist;
 *   `E_VALIDATION` when it cannot be parsed (naming the file and the parser's message), when a
 *   field is wrong (naming the file and every failing field), or an environment override is
 *   wrong (naming the variable), or for a bad command line.
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
  const fromEnv = readEnvOverrides(env)

  const origin: HubConfig['origin'] = {
    dataDir: 'default',
    databaseUrl: 'default',
    logLevel: 'default',
  }
  for (const key of ['dataDir', 'databaseUrl', 'logLevel'] as const) {
    if (fromEnv[key] !== undefined) origin[key] = 'env'
    else if (file[key] !== undefined) origin[key] = 'file'
  }
  const dataDir =
    fromEnv.dataDir !== undefined
      ? resolve(cwd, fromEnv.dataDir)
      : file.dataDir !== undefined
        ? resolve(base, file.dataDir)
        : resolve(cwd, 'data')
  const databaseUrl = fromEnv.databaseUrl ?? file.databaseUrl
  const storage: StorageConfig =
    databaseUrl === undefined
      ? { kind: 'sqlite', filename: resolve(dataDir, 'hub.db') }
      : { kind: 'postgres', url: databaseUrl, schema: file.databaseSchema }
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
    logLevel: fromEnv.logLevel ?? file.logLevel ?? 'info',
    pluginDirs,
    plugins,
    required: file.required ?? [],
    pluginConfig: (file.config ?? {}) as Record<string, unknown>,
    persistState: file.persistState ?? [],
    lifecycleTimeoutMs: file.lifecycleTimeoutMs,
    shutdownTimeoutMs: file.shutdownTimeoutMs,
    watch: args.watch || file.watch === true,
    origin,
  }
}

const ajv = new Ajv2020({ allErrors: true, strict: false })
const validateFile = ajv.compile(HubConfigSchema)
const EnvSchema = Type.Object({
  dataDir: Type.Optional(Type.String({ minLength: 1 })),
  databaseUrl: Type.Optional(Type.String({ pattern: DATABASE_URL_PATTERN })),
  logLevel: Type.Optional(Type.Enum([...LOG_LEVELS])),
})
const validateEnv = ajv.compile(EnvSchema)

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

function readEnvOverrides(env: Record<string, string | undefined>): Static<typeof EnvSchema> {
  const out: Record<string, string> = {}
  for (const [name, key] of Object.entries(ENV_OVERRIDES)) {
    const value = nonEmpty(env[name])
    if (value !== undefined) out[key] = value
  }
  if (!validateEnv(out)) {
    const byKey = Object.fromEntries(
      Object.entries(ENV_OVERRIDES).map(([name, key]) => [`/${key}`, name]),
    )
    const errors = withAllowedValues(validateEnv.errors).map((e) => ({
      ...e,
      path: byKey[e.instancePath] ?? e.instancePath,
    }))
    throw new CoreError(
      'E_VALIDATION',
      `Invalid environment: ${errors.map((e) => `${e.path} ${e.message}`).join('; ')}`,
      {
        details: {
          errors: errors.map((e) => ({ variable: e.path, keyword: e.keyword, message: e.message })),
        },
      },
    )
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
    return { instancePath: e.instancePath, keyword: e.keyword, message, params }
  })
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value
}

function isPathLike(spec: string): boolean {
  return spec.startsWith('.') || isAbsolute(spec)
}
