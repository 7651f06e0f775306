import { toCoreError } from '@core/contracts'
import type { RemoteReply } from '@core/service-registry'
import type { MindBusAction, MindBusAuthorize, MindBusCaller } from './types.js'

/**
 * Asks the `authorize` hook (when there is one) whether `caller` may do `action` on `resource`:
 * `undefined` when it may, else the refusal as a failed {@link RemoteReply} (`E_FORBIDDEN`, or
 * whatever CoreError the hook threw).
 * @internal
 */
export function refusal(
  authorize: MindBusAuthorize | undefined,
  caller: MindBusCaller,
  action: MindBusAction,
  resource: string,
): RemoteReply | undefined {
  if (authorize === undefined) return undefined
  try {
    authorize(caller, { action, resource })
    return undefined
  } catch (error) {
    const refused = toCoreError(
      error,
      'E_FORBIDDEN',
      `${caller.node} may not ${action} "${resource}"`,
    )
    return { ok: false, error: refused.toJSON() }
  }
}

/** The {@link MindBusCaller} of a message: its envelope `source` and AMQP `user_id`. @internal */
export function callerOf(source: string, userId: string | undefined): MindBusCaller {
  return userId === undefined ? { node: source } : { node: source, user: userId }
}
