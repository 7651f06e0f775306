import {
  assertServiceName,
  CoreError,
  cloneJson,
  type JsonSchema,
  type ServiceDescriptor,
  type Undo,
} from '@core/contracts'
import semver from 'semver'
import { checkIntegerTimeout } from './call-errors.js'
import type { LocalService } from './pending-call.js'
import type { CompiledSchema, SchemaCompiler } from './schemas.js'
import type { RegisterOptions, ServiceHandler } from './types.js'
import { parseVersion } from './versions.js'

/**
 * Checks a registration and compiles its schemas: the service record the registry stores.
 * @param existing - The versions of `name` already registered (a same version is a conflict).
 * @throws {@link @core/contracts!CoreError} `E_VALIDATION` for a bad name, handler, options, version,
 *   timeout, description, idempotent flag or schema; `E_CONFLICT` when the version is registered.
 */
export function createLocalService(
  name: string,
  handler: ServiceHandler,
  options: RegisterOptions,
  defaultTimeoutMs: number,
  schemas: SchemaCompiler,
  existing: readonly LocalService[] | undefined,
): LocalService {
  assertServiceName(name)
  if (typeof handler !== 'function') {
    throw new CoreError(
      'E_VALIDATION',
      `Invalid handler of service "${name}": expected a function (params, context) => result`,
      { details: { service: name } },
    )
  }
  if (typeof options !== 'object' || options === null || options.params === undefined) {
    throw new CoreError(
      'E_VALIDATION',
      `Service "${name}" needs options with a params schema (a JSON Schema; use {} to accept anything)`,
      { details: { service: name } },
    )
  }
  const parsed = parseVersion(options.version ?? '1.0.0', name)
  const version = parsed.version
  const label = `${name}@${version}`
  const details = { service: name, version }
  const timeoutMs =
    options.timeoutMs === undefined
      ? defaultTimeoutMs
      : checkIntegerTimeout(options.timeoutMs, `timeoutMs of service "${label}"`)
  if (options.description !== undefined && typeof options.description !== 'string') {
    throw new CoreError(
      'E_VALIDATION',
      `Invalid description of service "${label}": expected a string`,
      {
        details,
      },
    )
  }
  if (options.idempotent !== undefined && typeof options.idempotent !== 'boolean') {
    throw new CoreError(
      'E_VALIDATION',
      `Invalid idempotent flag of service "${label}": expected true or false`,
      { details },
    )
  }
  if (existing?.some((s) => semver.compare(s.semver, parsed) === 0)) {
    throw new CoreError(
      'E_CONFLICT',
      `Service "${label}" is already registered; unregister it first, or register another version`,
      { details },
    )
  }
  const params = schemas.compile(options.params, `params schema of service "${label}"`, details)
  let result: CompiledSchema | undefined
  try {
    result =
      options.result === undefined
        ? undefined
        : schemas.compile(options.result, `result schema of service "${label}"`, details)
  } catch (error) {
    schemas.release(params)
    throw error
  }
  return {
    name,
    version,
    semver: parsed,
    label,
    handler,
    params,
    result,
    timeoutMs,
    description: options.description,
    idempotent: options.idempotent ?? false,
  }
}

export function describe(s: LocalService): ServiceDescriptor {
  const d: ServiceDescriptor = {
    name: s.name,
    version: s.version,
    params: cloneJson(s.params.schema) as JsonSchema,
    timeoutMs: s.timeoutMs,
    idempotent: s.idempotent,
  }
  if (s.description !== undefined) d.description = s.description
  if (s.result !== undefined) d.result = cloneJson(s.result.schema) as JsonSchema
  return d
}

export function undoable(fn: () => void): Undo {
  let done = false
  const undo = (): void => {
    if (done) return
    done = true
    fn()
  }
  return Object.assign(undo, { [Symbol.dispose]: undo })
}
