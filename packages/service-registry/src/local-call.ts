import { type CoreError, type Logger, toShareable } from '@core/contracts'
import { handlerError, resultError } from './call-errors.js'
import type { LocalService, PendingCall } from './pending-call.js'

/** Step 5 without middleware, then settle. */
export function finishLocal(target: LocalService, call: PendingCall, value: unknown): void {
  if (call.settled) return
  const result = target.result
  if (result !== undefined && !result.validate(value)) {
    call.fail(resultError(target, result))
    return
  }
  let shared: unknown
  try {
    shared = shareResult(target, value)
  } catch (error) {
    call.fail(error as CoreError)
    return
  }
  call.succeed(shared)
}

/**
 * Params as the handler gets them: deep-frozen in place (no copy) or, when they hold binary
 * data or collections freezing cannot lock, a private structured clone. The caller and the
 * handler never share anything either can change.
 */
export function shareParams(params: unknown, name: string): unknown {
  if (typeof params !== 'object' || params === null) return params
  return toShareable(params, `params of the call to "${name}"`)
}

/** The handler's result as the caller gets it, frozen (or copied) like {@link shareParams}. */
export function shareResult(target: LocalService, value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value
  return toShareable(value, `result returned by service "${target.label}"`)
}

export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  )
}

/** Steps 4-5 without middleware: no promise beyond the handler's own and its `then`. */
export function invokeDirect(target: LocalService, call: PendingCall, logger: Logger): void {
  try {
    const out = target.handler(call.params, call.handlerContext())
    // (a thenable whose `then` throws lands in the catch below, as a handler failure)
    if (isThenable(out)) {
      out.then(
        (value) => finishLocal(target, call, value),
        (error: unknown) => failLocal(target, call, error, logger),
      )
    } else finishLocal(target, call, out)
  } catch (error) {
    call.fail(handlerError(target, error))
  }
}

function failLocal(target: LocalService, call: PendingCall, error: unknown, logger: Logger): void {
  if (call.settled) {
    logger.debug({ service: target.label, err: error }, 'handler failed after its call had ended')
    return
  }
  call.fail(handlerError(target, error))
}

/** Steps 4-5 behind middleware: a promise of the validated result or a CoreError. */
export async function invokeLocal(target: LocalService, call: PendingCall): Promise<unknown> {
  let value: unknown
  try {
    value = await target.handler(call.params, call.handlerContext())
  } catch (error) {
    throw handlerError(target, error)
  }
  const result = target.result
  if (result !== undefined && !result.validate(value)) throw resultError(target, result)
  return shareResult(target, value)
}
