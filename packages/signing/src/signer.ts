import { createHmac, sign as ed25519Sign } from 'node:crypto'
import { CoreError } from '@core/contracts'
import { signingInput } from './canonical.js'
import { loadKeys } from './keys.js'
import type { CreateSignerOptions, SignableEvent, SignatureAttributes, Signer } from './types.js'

/**
 * Creates a signer of CloudEvents with one key: HMAC-SHA256 or Ed25519 over the RFC 8785
 * canonical form of the envelope (see {@link Signer.sign}), carried as the extension attributes
 * `sigalg`, `sigkid` and `sig` (base64url).
 *
 * @throws {@link @core/contracts!CoreError} `E_VALIDATION` for a malformed key, an unknown
 *   `keyId`, or an Ed25519 key without its private key.
 * @see CloudEvents 1.0 extension attributes; RFC 8785; RFC 2104 (HMAC); RFC 8032 (Ed25519)
 * @example
 * ```ts
 * const keys = [{ id: 'k1', algorithm: 'hmac-sha256', secret: process.env.HUB_KEY! }] as const
 * const signer = createSigner({ keys, keyId: 'k1' })
 * const signed = signer.sign({ specversion: '1.0', id: 'e1', source: '/hub/a', type: 'x.y', data: {} })
 * // signed.sigalg === 'hmac-sha256', signed.sigkid === 'k1', signed.sig: 43 base64url characters
 * ```
 * @public
 */
export function createSigner(options: CreateSignerOptions): Signer {
  const ring = loadKeys(options.keys)
  const key = ring.get(options.keyId)
  if (key === undefined) {
    throw new CoreError(
      'E_VALIDATION',
      `Cannot sign with key "${options.keyId}": it is not among the configured keys (${[...ring.keys()].join(', ')})`,
      { details: { key: options.keyId } },
    )
  }
  if (key.algorithm === 'ed25519' && key.privateKey === undefined) {
    throw new CoreError(
      'E_VALIDATION',
      `Cannot sign with key "${key.id}": this node has only its public key; give privateKey to sign`,
      { details: { key: key.id } },
    )
  }
  const sign = <E extends SignableEvent>(event: E): E & SignatureAttributes => {
    const input = signingInput(event, key.algorithm, key.id)
    const sig =
      key.algorithm === 'hmac-sha256'
        ? createHmac('sha256', key.secret as Buffer)
            .update(input)
            .digest('base64url')
        : ed25519Sign(null, input, key.privateKey as never).toString('base64url')
    return { ...event, sigalg: key.algorithm, sigkid: key.id, sig }
  }
  return Object.freeze({ keyId: key.id, sign })
}
