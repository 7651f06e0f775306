import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto'
import { CoreError } from '@core/contracts'
import type { SignatureAlgorithm, SigningKey } from './types.js'

/** The shortest HMAC secret accepted, in bytes (the output size of SHA-256, RFC 2104 §3). */
export const MIN_HMAC_SECRET_BYTES = 32

/** A key ready for use. @internal */
export interface KeyEntry {
  readonly id: string
  readonly algorithm: SignatureAlgorithm
  readonly owner: string | undefined
  /** HMAC: the secret. */
  readonly secret: Buffer | undefined
  /** Ed25519: the public key. */
  readonly publicKey: KeyObject | undefined
  /** Ed25519: the private key, when this node signs with it. */
  readonly privateKey: KeyObject | undefined
}

const KEY_ID_RE = /^[A-Za-z0-9._:-]{1,64}$/

/**
 * Checks the keys and prepares them (secrets as bytes, PEM parsed once).
 * @throws {@link @core/contracts!CoreError} `E_VALIDATION` naming the key for a malformed or duplicate key.
 * @internal
 */
export function loadKeys(keys: readonly SigningKey[]): Map<string, KeyEntry> {
  if (!Array.isArray(keys) || keys.length === 0) {
    throw invalid('keys', 'give at least one signing key')
  }
  const ring = new Map<string, KeyEntry>()
  for (const key of keys) {
    const id = (key as { id?: unknown }).id
    if (typeof id !== 'string' || !KEY_ID_RE.test(id)) {
      throw invalid(
        String(id),
        'use a key id of 1-64 letters, digits, ".", "_", ":" or "-" (e.g. "hub-2026-12")',
      )
    }
    if (ring.has(id)) throw invalid(id, 'key ids must be unique')
    if (key.owner !== undefined && (typeof key.owner !== 'string' || key.owner.length === 0)) {
      throw invalid(id, 'owner must be a non-empty string when given')
    }
    if (key.algorithm === 'hmac-sha256') {
      const secret =
        typeof key.secret === 'string'
          ? Buffer.from(key.secret, 'utf8')
          : key.secret instanceof Uint8Array
            ? Buffer.from(key.secret)
            : undefined
      if (secret === undefined || secret.length < MIN_HMAC_SECRET_BYTES) {
        throw invalid(
          id,
          `an hmac-sha256 secret needs at least ${MIN_HMAC_SECRET_BYTES} bytes (e.g. 64 random hex characters: openssl rand -hex 32)`,
        )
      }
      ring.set(id, {
        id,
        algorithm: 'hmac-sha256',
        owner: key.owner,
        secret,
        publicKey: undefined,
        privateKey: undefined,
      })
    } else if (key.algorithm === 'ed25519') {
      const publicKey = parse(id, 'publicKey', () => createPublicKey(key.publicKey))
      const privateKey =
        key.privateKey === undefined
          ? undefined
          : parse(id, 'privateKey', () => createPrivateKey(key.privateKey as string))
      if (
        publicKey.asymmetricKeyType !== 'ed25519' ||
        (privateKey !== undefined && privateKey.asymmetricKeyType !== 'ed25519')
      ) {
        throw invalid(
          id,
          'an ed25519 key needs Ed25519 PEM keys (openssl genpkey -algorithm ed25519)',
        )
      }
      if (
        privateKey !== undefined &&
        !createPublicKey(privateKey)
          .export({ format: 'der', type: 'spki' })
          .equals(publicKey.export({ format: 'der', type: 'spki' }))
      ) {
        throw invalid(id, 'privateKey and publicKey are not one key pair')
      }
      ring.set(id, {
        id,
        algorithm: 'ed25519',
        owner: key.owner,
        secret: undefined,
        publicKey,
        privateKey,
      })
    } else {
      throw invalid(
        id,
        `unknown algorithm ${JSON.stringify((key as { algorithm?: unknown }).algorithm)}: use "hmac-sha256" or "ed25519"`,
      )
    }
  }
  return ring
}

function parse(id: string, field: string, read: () => KeyObject): KeyObject {
  try {
    return read()
  } catch (cause) {
    throw new CoreError(
      'E_VALIDATION',
      `Invalid signing key "${id}": ${field} is not a PEM key (${(cause as Error).message})`,
      { details: { key: id, field }, cause },
    )
  }
}

function invalid(id: string, rule: string): CoreError {
  return new CoreError('E_VALIDATION', `Invalid signing key "${id}": ${rule}`, {
    details: { key: id },
  })
}
