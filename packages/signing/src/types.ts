import type { Clock } from '@core/contracts'

/** The signature algorithms: HMAC-SHA256 (a shared secret) or Ed25519 (a key pair). @public */
export type SignatureAlgorithm = 'hmac-sha256' | 'ed25519'

/**
 * One signing key, known by its id (`sigkid` on the wire).
 *
 * - `hmac-sha256`: `secret` is the shared secret, at least 32 bytes (a string is read as UTF-8;
 *   use e.g. 64 random hex characters). Every party that verifies can also sign.
 * - `ed25519`: `publicKey` (PEM, SPKI) verifies; `privateKey` (PEM, PKCS #8) signs and is
 *   needed only on the node that signs with this key.
 *
 * `owner` names who may sign with the key (e.g. the AMQP broker user of a node); a verifier asked
 * for an expected owner refuses a message signed with another's key.
 * @public
 */
export type SigningKey =
  | {
      readonly id: string
      readonly algorithm: 'hmac-sha256'
      readonly secret: string | Uint8Array
      readonly owner?: string
    }
  | {
      readonly id: string
      readonly algorithm: 'ed25519'
      readonly publicKey: string
      readonly privateKey?: string
      readonly owner?: string
    }

/**
 * The CloudEvents 1.0 extension attributes a signed event carries: `sigalg` (the algorithm),
 * `sigkid` (the key id) and `sig` (the signature, base64url without padding).
 * @public
 */
export interface SignatureAttributes {
  sigalg: SignatureAlgorithm
  sigkid: string
  sig: string
}

/**
 * The envelope fields that are signed: the CloudEvents context attributes `id`, `source`,
 * `type`, `subject`, `time`, `datacontenttype`, and `data`. Other attributes (such as
 * `traceparent`) travel unsigned.
 * @public
 */
export interface SignableEvent {
  readonly specversion?: string
  readonly id: string
  readonly source: string
  readonly type: string
  readonly subject?: string
  readonly time?: string
  readonly datacontenttype?: string
  readonly data?: unknown
  /** Read by the verifier (see {@link SignatureAttributes}); unknown until checked. */
  readonly sigalg?: unknown
  readonly sigkid?: unknown
  readonly sig?: unknown
}

/** Why a message was refused; counted per reason by {@link Verifier.stats}. @public */
export type RefusalReason =
  | 'unsigned'
  | 'unknown-algorithm'
  | 'unknown-key'
  | 'bad-signature'
  | 'owner-mismatch'
  | 'no-time'
  | 'expired'
  | 'future'
  | 'replayed'

/** The reasons in a stable order, e.g. for metrics. @public */
export const REFUSAL_REASONS: readonly RefusalReason[] = [
  'unsigned',
  'unknown-algorithm',
  'unknown-key',
  'bad-signature',
  'owner-mismatch',
  'no-time',
  'expired',
  'future',
  'replayed',
]

/**
 * Remembers `(source, id)` pairs for replay protection.
 * @public
 */
export interface ReplayStore {
  /**
   * Records the pair unless it is already known; answers `true` when it was already known (a
   * replay). Atomic per pair: of two concurrent calls with the same pair, exactly one gets
   * `false`. The pair is remembered for at least `ttlMs` milliseconds.
   */
  remember(source: string, id: string, ttlMs: number): Promise<boolean>
  /** Releases what the store holds (timers, nothing remote). Idempotent. */
  close?(): void
}

/** Options of {@link createSigner}. @public */
export interface CreateSignerOptions {
  /** The keys; the signer needs the secret (HMAC) or the private key (Ed25519) of `keyId`. */
  keys: readonly SigningKey[]
  /** The id of the key to sign with; during a rotation, switch it once every verifier knows the new key. */
  keyId: string
}

/** Options of {@link createVerifier}. @public */
export interface CreateVerifierOptions {
  /** Every key a message may be signed with (two or more during a rotation). */
  keys: readonly SigningKey[]
  /**
   * How far an event's `time` may be from now, in ms, either way; older is `expired`, newer is
   * `future`. @defaultValue 300_000 (±300 s)
   */
  windowMs?: number
  /**
   * Where `(source, id)` pairs seen within the window are kept. @defaultValue an in-memory store
   * ({@link createMemoryReplayStore}); use {@link createRedisReplayStore} so that a message
   * replayed to another hub is caught too.
   */
  replay?: ReplayStore
  /** The wall clock. @defaultValue the system clock */
  clock?: Pick<Clock, 'now'>
}

/** What {@link Verifier.verify} may check besides the signature. @public */
export interface VerifyOptions {
  /**
   * Who must own the key: e.g. the AMQP `user_id` the broker vouched for. A key with another
   * `owner` is refused as `owner-mismatch`; a key without an owner passes.
   */
  owner?: string
}

/** What a successful {@link Verifier.verify} learned. @public */
export interface Verified {
  /** The key that signed the message. */
  keyId: string
  /** Its owner, when the key names one. */
  owner: string | undefined
  algorithm: SignatureAlgorithm
}

/** Signs CloudEvents. @public */
export interface Signer {
  /** The id of the key this signer uses. */
  readonly keyId: string
  /**
   * Returns a copy of `event` with `sigalg`, `sigkid` and `sig` set (earlier values replaced).
   * @throws {@link @core/contracts!CoreError} `E_VALIDATION` when the event lacks `id`, `source` or `type`,
   *   or its data cannot be put in canonical JSON (RFC 8785).
   */
  sign<E extends SignableEvent>(event: E): E & SignatureAttributes
}

/** Verifies signed CloudEvents. @public */
export interface Verifier {
  /**
   * Checks, in this order: a signature is present, its algorithm and key are known, the
   * signature matches (timing-safe), the key's owner is `options.owner` if given, `time` lies
   * within the window, and `(source, id)` was not seen within the window.
   * @throws {@link @core/contracts!CoreError} `E_UNAUTHENTICATED` with `details.reason` (a
   *   {@link RefusalReason}), counted in {@link Verifier.stats}.
   */
  verify(event: SignableEvent, options?: VerifyOptions): Promise<Verified>
  /** Accepted messages and refusals per reason since creation. */
  stats(): VerifierStats
}

/** Counters of a {@link Verifier}. @public */
export interface VerifierStats {
  accepted: number
  refused: Record<RefusalReason, number>
}
