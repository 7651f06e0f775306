import { createHmac, verify as ed25519Verify, timingSafeEqual } from 'node:crypto'
import { CoreError } from '@core/contracts'
import { signingInput } from './canonical.js'
import { type KeyEntry, loadKeys } from './keys.js'
import { createMemoryReplayStore } from './replay.js'
import {
  type CreateVerifierOptions,
  REFUSAL_REASONS,
  type RefusalReason,
  type SignableEvent,
  type Verified,
  type Verifier,
  type VerifierStats,
  type VerifyOptions,
} from './types.js'

/** The default time window either way, in ms (±300 s). @public */
export const DEFAULT_WINDOW_MS = 300_000

const BASE64URL_RE = /^[A-Za-z0-9_-]+$/

/**
 * Creates a verifier of signed CloudEvents (see {@link Verifier.verify} for the checks and their
 * order). Keys known to the verifier are all accepted, so a rotation is: add the new key to every
 * verifier, switch signers to it, then remove the old key.
 *
 * @throws {@link @core/contracts!CoreError} `E_VALIDATION` for a malformed key or window.
 * @see RFC 8785; RFC 2104; RFC 8032; CloudEvents 1.0 `time` (RFC 3339)
 * @example
 * ```ts
 * const verifier = createVerifier({ keys: [{ id: 'k1', algorithm: 'hmac-sha256', secret }] })
 * await verifier.verify(signed) // → { keyId: 'k1', owner: undefined, algorithm: 'hmac-sha256' }
 * await verifier.verify(signed) // → throws E_UNAUTHENTICATED, details.reason 'replayed'
 * ```
 * @public
 */
export function createVerifier(options: CreateVerifierOptions): Verifier {
  const ring = loadKeys(options.keys)
  const windowMs = options.windowMs ?? DEFAULT_WINDOW_MS
  if (!Number.isFinite(windowMs) || windowMs <= 0) {
    throw new CoreError(
      'E_VALIDATION',
      `Invalid verifier option windowMs ${JSON.stringify(windowMs)}: use a positive number of milliseconds`,
      { details: { option: 'windowMs' } },
    )
  }
  const replay = options.replay ?? createMemoryReplayStore()
  const now = options.clock === undefined ? Date.now : () => options.clock?.now() as number
  const counters: VerifierStats = {
    accepted: 0,
    refused: Object.fromEntries(REFUSAL_REASONS.map((r) => [r, 0])) as Record<
      RefusalReason,
      number
    >,
  }

  const refuse = (reason: RefusalReason, event: SignableEvent, message: string): CoreError => {
    counters.refused[reason]++
    return new CoreError('E_UNAUTHENTICATED', `Refused event ${describe(event)}: ${message}`, {
      details: { reason, id: event.id, source: event.source, sigkid: event.sigkid },
    })
  }

  const verify = async (event: SignableEvent, options: VerifyOptions = {}): Promise<Verified> => {
    const { sigalg, sigkid, sig } = event
    if (sig === undefined && sigalg === undefined && sigkid === undefined) {
      throw refuse('unsigned', event, 'it carries no signature (sigalg, sigkid, sig)')
    }
    if (sigalg !== 'hmac-sha256' && sigalg !== 'ed25519') {
      throw refuse(
        'unknown-algorithm',
        event,
        `sigalg ${JSON.stringify(sigalg)} is not "hmac-sha256" or "ed25519"`,
      )
    }
    const key = typeof sigkid === 'string' ? ring.get(sigkid) : undefined
    if (key === undefined || key.algorithm !== sigalg) {
      throw refuse(
        'unknown-key',
        event,
        `key ${JSON.stringify(sigkid)} (${sigalg}) is not configured here; add it to the keys of this hub`,
      )
    }
    if (typeof sig !== 'string' || !BASE64URL_RE.test(sig) || !matches(key, event, sig)) {
      throw refuse('bad-signature', event, `the signature does not match key "${key.id}"`)
    }
    if (options.owner !== undefined && key.owner !== undefined && key.owner !== options.owner) {
      throw refuse(
        'owner-mismatch',
        event,
        `key "${key.id}" belongs to "${key.owner}", but the message came from "${options.owner}"`,
      )
    }
    const time = typeof event.time === 'string' ? Date.parse(event.time) : Number.NaN
    if (Number.isNaN(time)) {
      throw refuse('no-time', event, 'it has no RFC 3339 time, so its age cannot be checked')
    }
    const at = now()
    if (time < at - windowMs) {
      throw refuse(
        'expired',
        event,
        `its time ${event.time} is more than ${windowMs / 1000} s in the past`,
      )
    }
    if (time > at + windowMs) {
      throw refuse(
        'future',
        event,
        `its time ${event.time} is more than ${windowMs / 1000} s in the future (check the clocks)`,
      )
    }
    // Remembered until it would be refused as expired anyway.
    if (await replay.remember(event.source, event.id, time + windowMs - at + 1)) {
      throw refuse('replayed', event, `(source, id) was already accepted within the window`)
    }
    counters.accepted++
    return { keyId: key.id, owner: key.owner, algorithm: key.algorithm }
  }

  return Object.freeze({
    verify,
    stats: (): VerifierStats => ({ accepted: counters.accepted, refused: { ...counters.refused } }),
  })
}

function matches(key: KeyEntry, event: SignableEvent, sig: string): boolean {
  let input: Buffer
  try {
    input = signingInput(event, key.algorithm, key.id)
  } catch {
    return false
  }
  const given = Buffer.from(sig, 'base64url')
  if (key.algorithm === 'hmac-sha256') {
    const expected = createHmac('sha256', key.secret as Buffer)
      .update(input)
      .digest()
    return given.length === expected.length && timingSafeEqual(given, expected)
  }
  return ed25519Verify(null, input, key.publicKey as never, given)
}

function describe(event: SignableEvent): string {
  const type = typeof event.type === 'string' ? event.type : '?'
  const id = typeof event.id === 'string' ? event.id : '?'
  return `"${type}" ${id}`
}
