import { readFile } from 'node:fs/promises'
import { extname } from 'node:path'
import { CoreError, validationError } from '@core/contracts'
import { assertStrongAdminToken } from '@core/http'
import { Ajv2020 } from 'ajv/dist/2020.js'
import Type, { type Static } from 'typebox'
import { parse as parseYaml } from 'yaml'
import {
  DATABASE_URL_PATTERN,
  type HubConfigFile,
  HubConfigSchema,
  LOG_LEVELS,
  MIN_ADMIN_TOKEN_LENGTH,
  SQLITE_SYNCHRONOUS,
} from './config-schema.js'
import { HOST_PATTERN } from './http-config.js'
import { MINDBUS_ENV_MESSAGES, MindBusEnvSchema } from './mindbus-config.js'
import { MQTT_URL_PATTERN } from './mqtt-config.js'
import { REDIS_ENV_MESSAGES, RedisEnvSchema } from './redis-config.js'

/** The hub config file and the `CORE_*` environment, read and validated. @internal */

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
  ...MindBusEnvSchema,
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
  ...MINDBUS_ENV_MESSAGES,
}

export async function readConfigFile(path: string): Promise<HubConfigFile> {
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

export type HubEnvironment = Static<typeof EnvSchema>

export function readEnvironment(env: Record<string, string | undefined>): HubEnvironment {
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

export function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value
}
