import { CoreError } from '@core/contracts'
import canonicalize from 'canonicalize'
import type { SignableEvent, SignatureAlgorithm } from './types.js'

/**
 * The bytes a signature covers: the RFC 8785 (JCS) canonical JSON of
 * `{ sigalg, sigkid, id, source, type, subject, time, datacontenttype, data }`, absent members
 * left out. The algorithm and key id are covered too, so neither can be swapped on the way.
 *
 * @throws {@link @core/contracts!CoreError} `E_VALIDATION` when `id`, `source` or `type` is not a non-empty
 *   string, or the data has no JSON form (e.g. a non-finite number).
 * @see RFC 8785 "JSON Canonicalization Scheme"; CloudEvents 1.0 context attributes
 * @internal
 */
export function signingInput(
  event: SignableEvent,
  algorithm: SignatureAlgorithm,
  keyId: string,
): Buffer {
  for (const name of ['id', 'source', 'type'] as const) {
    const value = event[name]
    if (typeof value !== 'string' || value.length === 0) {
      throw new CoreError(
        'E_VALIDATION',
        `Cannot sign or verify an event without a CloudEvents "${name}": set it to a non-empty string`,
        { details: { attribute: name } },
      )
    }
  }
  const covered: Record<string, unknown> = {
    sigalg: algorithm,
    sigkid: keyId,
    id: event.id,
    source: event.source,
    type: event.type,
  }
  if (event.subject !== undefined) covered.subject = event.subject
  if (event.time !== undefined) covered.time = event.time
  if (event.datacontenttype !== undefined) covered.datacontenttype = event.datacontenttype
  if (event.data !== undefined) covered.data = event.data
  let text: string | undefined
  try {
    text = canonicalize(covered)
  } catch (cause) {
    text = undefined
    throw new CoreError(
      'E_VALIDATION',
      `Cannot sign event "${event.type}" ${event.id}: its data has no canonical JSON form (${(cause as Error).message})`,
      { details: { id: event.id, type: event.type }, cause },
    )
  }
  if (text === undefined) {
    throw new CoreError(
      'E_VALIDATION',
      `Cannot sign event "${event.type}" ${event.id}: no JSON form`,
      {
        details: { id: event.id, type: event.type },
      },
    )
  }
  return Buffer.from(text, 'utf8')
}
