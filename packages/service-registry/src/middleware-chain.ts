import { CoreError, type Logger, toCoreError } from '@core/contracts'
import { isThenable } from './local-call.js'
import type { PendingCall, Route } from './pending-call.js'
import type { Middleware } from './types.js'

/**
 * Runs middleware `i` of `chain`, in onion order (past the last: `terminal`, the registry's
 * innermost step). A middleware's failure that is not a CoreError is logged and wrapped.
 * @throws {@link @core/contracts!CoreError} (as a rejection) `E_INTERNAL` when a middleware calls
 *   `next()` twice or throws something other than a CoreError.
 */
export function dispatch(
  chain: ReadonlyArray<{ fn: Middleware }>,
  call: PendingCall,
  i: number,
  terminal: (call: PendingCall) => Promise<unknown>,
  logger: Logger,
): Promise<unknown> {
  const route = call.route as Route
  if (i <= route.step) {
    return Promise.reject(
      new CoreError(
        'E_INTERNAL',
        `A middleware called next() more than once during the call to "${call.name}"`,
        {
          details: { service: call.name, middleware: i - 1 },
        },
      ),
    )
  }
  route.step = i
  const entry = chain[i]
  if (entry === undefined) return terminal(call)
  try {
    const out = entry.fn(call, () => dispatch(chain, call, i + 1, terminal, logger))
    return isThenable(out)
      ? Promise.resolve(out).then(undefined, (error: unknown) => {
          throw middlewareError(logger, call.name, i, error)
        })
      : Promise.resolve(out)
  } catch (error) {
    return Promise.reject(middlewareError(logger, call.name, i, error))
  }
}

function middlewareError(logger: Logger, name: string, index: number, error: unknown): CoreError {
  if (CoreError.is(error)) return error
  logger.warn({ service: name, middleware: index, err: error }, 'a middleware threw')
  return toCoreError(
    error,
    'E_INTERNAL',
    `Middleware #${index} failed during the call to "${name}"`,
  )
}
