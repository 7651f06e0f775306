import { type Clock, CoreError, type ServiceDescriptor } from '@core/contracts'
import { asCoreError, remoteError } from './call-errors.js'
import type { PendingCall } from './pending-call.js'
import type { CallOptions, RemoteCallRequest, RemoteReply, RemoteTransport } from './types.js'

/**
 * One attempt of a remote call through the transport (the `RemoteGuard` retries and the
 * circuit breakers wrap it).
 * @throws {@link @core/contracts!CoreError} (as a rejection) the remote's own error, rebuilt, or
 *   `E_UNAVAILABLE` when the transport itself failed. The request's `timeoutMs` is what is
 *   left of the call's deadline (ms).
 */
export function sendRemote(
  transport: RemoteTransport,
  clock: Clock,
  call: PendingCall,
): Promise<unknown> {
  const deadlineAt = call.deadlineAt
  const request: RemoteCallRequest = {
    name: call.name,
    params: call.params,
    timeoutMs: Math.max(1, deadlineAt - clock.now()),
    deadlineAt,
    meta: call.meta,
  }
  if (call.version !== '*' || call.requestedRange !== undefined) request.version = call.version
  let pending: Promise<unknown>
  try {
    pending = transport.call(request, call.signal)
  } catch (error) {
    return Promise.reject(remoteError(call.name, error))
  }
  return Promise.resolve(pending).then(undefined, (error: unknown) => {
    throw remoteError(call.name, error)
  })
}

/**
 * Serves a call that came from another node: runs it locally only (never forwards again) and
 * answers `{ ok, result }` or `{ ok: false, error }` (a serialised CoreError); never rejects.
 */
export async function serveRemote(
  call: (name: string, params: unknown, options: CallOptions) => Promise<unknown>,
  request: RemoteCallRequest,
  signal?: AbortSignal,
): Promise<RemoteReply> {
  try {
    if (typeof request !== 'object' || request === null) {
      throw new CoreError(
        'E_VALIDATION',
        'Invalid remote call request: expected an object { name, params, timeoutMs, deadlineAt, meta }',
      )
    }
    const result = await call(request.name, request.params, {
      version: request.version,
      timeoutMs: request.timeoutMs,
      meta: request.meta,
      signal,
    })
    return { ok: true, result }
  } catch (error) {
    return {
      ok: false,
      error: asCoreError(error, 'E_INTERNAL', 'Serving a remote call failed').toJSON(),
    }
  }
}

/**
 * The local services plus the remote ones the transport lists (a version served here is listed once).
 * @throws {@link @core/contracts!CoreError} `E_UNAVAILABLE` (or the transport's CoreError) when listing fails.
 */
export async function listWithRemote(
  local: ServiceDescriptor[],
  transport: RemoteTransport | undefined,
): Promise<ServiceDescriptor[]> {
  if (transport?.list === undefined) return local
  let far: readonly ServiceDescriptor[]
  try {
    far = await transport.list()
  } catch (error) {
    throw asCoreError(error, 'E_UNAVAILABLE', 'Listing the remote services failed')
  }
  const seen = new Set(local.map((d) => `${d.name}@${d.version}`))
  for (const d of far) if (!seen.has(`${d.name}@${d.version}`)) local.push({ ...d })
  return local
}
