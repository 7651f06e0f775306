import { CoreError, type RateLimitedLogger } from '@core/contracts'
import type { SignableEvent, Verified, Verifier } from '@core/signing'
import type { AuthorizeMqttCall, Counters } from './types.js'

/** CloudEvents `type` of a signed MQTT call. @public */
export const SIGNED_CALL_TYPE = 'core.mqtt.call'

/** The body of a call in its signed form, read from the envelope's `data`. @internal */
export interface SignedCallData {
  params?: unknown
  replyTo?: unknown
  correlationId?: unknown
  traceparent?: unknown
  authorization?: unknown
}

/** True for a payload in the signed form: a CloudEvents 1.0 object carrying `sig`. @internal */
export function isSignedEnvelope(value: unknown): value is SignableEvent {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false
  const v = value as Record<string, unknown>
  return v.specversion === '1.0' && v.sig !== undefined
}

/** The call fields of a signed envelope's `data` (an object), else none. @internal */
export function signedCallData(envelope: SignableEvent): SignedCallData {
  const data = envelope.data
  return typeof data === 'object' && data !== null && !Array.isArray(data)
    ? (data as SignedCallData)
    : {}
}

/**
 * Checks a signed call: `type` `core.mqtt.call`, `subject` the service of the topic (so a
 * signed call cannot be replayed onto another service), then the verifier's checks (signature
 * by a known key, time window, replay). Refusals are counted by reason in
 * `counters.signatureRefused` and logged rate-limited.
 * @throws {@link @core/contracts!CoreError} `E_FORBIDDEN` (`details.reason` `wrong-service`) or the
 *   verifier's `E_UNAUTHENTICATED` with `details.reason`.
 * @internal
 */
export async function verifySignedCall(
  verifier: Verifier,
  envelope: SignableEvent,
  service: string,
  counters: Counters,
  limited: RateLimitedLogger,
): Promise<Verified> {
  try {
    if (envelope.type !== SIGNED_CALL_TYPE || envelope.subject !== service) {
      throw new CoreError(
        'E_FORBIDDEN',
        `Signed MQTT call refused: it was signed for ${JSON.stringify(envelope.subject)} (type ${JSON.stringify(envelope.type)}), not for "${service}"; sign type "${SIGNED_CALL_TYPE}" with subject "${service}"`,
        { details: { reason: 'wrong-service', service } },
      )
    }
    const verified = await verifier.verify(envelope)
    counters.signedCalls++
    return verified
  } catch (error) {
    const reason = CoreError.is(error)
      ? String((error.details as { reason?: unknown } | undefined)?.reason ?? 'replay-store')
      : 'replay-store'
    counters.signatureRefused[reason] = (counters.signatureRefused[reason] ?? 0) + 1
    limited.warn(
      `mqtt.call.signature.${reason}`,
      { service, reason },
      `Signed MQTT call of "${service}" refused (${reason}): ${(error as Error).message}`,
    )
    throw error
  }
}

/**
 * The token check when only signed calls are accepted (`signing.verifier` without
 * `authorizeCall`): every unsigned call is refused. @internal
 */
export const refuseUnsignedCall: AuthorizeMqttCall = (_token, service) =>
  Promise.reject(
    new CoreError(
      'E_UNAUTHENTICATED',
      `MQTT call of "${service}" is not signed: this hub accepts only signed calls; send a CloudEvent of type "${SIGNED_CALL_TYPE}" with subject "${service}", data { params, replyTo?, correlationId? } and sigalg/sigkid/sig from a key the hub knows`,
      { details: { service, reason: 'unsigned' } },
    ),
  )
