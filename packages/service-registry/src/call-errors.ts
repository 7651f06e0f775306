import { CoreError, type CoreErrorCode, toCoreError, validationError } from '@core/contracts'
import { closestNames } from './closest.js'
import type { LocalService } from './pending-call.js'
import type { CompiledSchema } from './schemas.js'

// The registry's refusals: one builder per failure, each naming the service and what to do.

export function paramsError(
  target: LocalService,
  errors: Parameters<typeof validationError>[1],
): CoreError {
  return validationError(`params of service "${target.label}"`, errors, {
    service: target.name,
    version: target.version,
  })
}

export function resultError(target: LocalService, result: CompiledSchema): CoreError {
  const base = validationError(
    `result returned by service "${target.label}"`,
    result.validate.errors,
    {
      service: target.name,
      version: target.version,
      side: 'result',
    },
  )
  return new CoreError(
    'E_VALIDATION',
    `${base.message}. The service broke its own result schema: this is a fault of the service, not of the call; report it to the service's owner`,
    { details: { ...base.details } },
  )
}

export function handlerError(target: LocalService, error: unknown): CoreError {
  return asCoreError(error, 'E_HANDLER', `Service "${target.label}" failed`)
}

/** A CoreError as it is (rebuilt when it came from another copy or as JSON); anything else wrapped. */
export function asCoreError(error: unknown, code: CoreErrorCode, message: string): CoreError {
  if (error instanceof CoreError) return error
  if (CoreError.is(error) || isSerialized(error)) return CoreError.fromJSON(error)
  return toCoreError(error, code, message)
}

export function remoteError(name: string, error: unknown): CoreError {
  if (error instanceof CoreError) return error
  if (CoreError.is(error) || isSerialized(error)) return CoreError.fromJSON(error)
  const reason = error instanceof Error ? error.message : String(error)
  return new CoreError(
    'E_UNAVAILABLE',
    `Remote call to "${name}" failed in the transport: ${reason}. The serving node may be unreachable; retry later`,
    { cause: error, details: { service: name } },
  )
}

export function cancelled(name: string, cause: unknown): CoreError {
  return new CoreError('E_CANCELLED', `Call to "${name}" was cancelled by the caller`, {
    cause,
    details: { service: name },
  })
}

export function checkCallTimeout(value: unknown, name: string): number {
  if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value)) {
    throw new CoreError(
      'E_VALIDATION',
      `Invalid timeoutMs ${JSON.stringify(value)} for the call to "${name}": expected milliseconds, a finite number > 0`,
      { details: { service: name, timeoutMs: value } },
    )
  }
  return value
}

export function checkIntegerTimeout(value: unknown, subject: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new CoreError(
      'E_VALIDATION',
      `Invalid ${subject} ${JSON.stringify(value)}: expected milliseconds, an integer ≥ 1`,
      {
        details: { timeoutMs: value },
      },
    )
  }
  return value
}

function isSerialized(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false
  const v = value as { name?: unknown; code?: unknown; message?: unknown }
  return v.name === 'CoreError' && typeof v.code === 'string' && typeof v.message === 'string'
}

/** `E_SERVICE_NOT_FOUND`: no such version (lists those there are), or no such name (suggests the closest). */
export function notFound(
  name: string,
  range: string | undefined,
  versions: readonly LocalService[] | undefined,
  registered: Iterable<string>,
): CoreError {
  if (versions !== undefined) {
    const available = versions.map((s) => s.version)
    return new CoreError(
      'E_SERVICE_NOT_FOUND',
      `No version of service "${name}" satisfies "${range}"; registered: ${available.join(', ')}. Ask for a range that includes one of them`,
      { details: { service: name, version: range, available } },
    )
  }
  const closest = closestNames(name, registered)
  const hint =
    closest.length > 0
      ? `; did you mean ${closest.map((n) => `"${n}"`).join(' or ')}?`
      : '; no registered service has a similar name (is the plugin that provides it loaded?)'
  return new CoreError('E_SERVICE_NOT_FOUND', `No service "${name}" is registered${hint}`, {
    details: { service: name, closest },
  })
}
