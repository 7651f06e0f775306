/// <reference types="node" preserve="true" />
/**
 * Signed CloudEvents between hubs: HMAC-SHA256 or Ed25519 over the RFC 8785 canonical form of
 * the envelope, carried as the extension attributes `sigalg`, `sigkid`, `sig`; verification
 * with a time window and `(source, id)` replay protection, in memory or shared on Redis.
 *
 * @module @core/signing
 */

export { MIN_HMAC_SECRET_BYTES } from './keys.js'
export {
  createMemoryReplayStore,
  createRedisReplayStore,
  type MemoryReplayStore,
  type MemoryReplayStoreOptions,
  type RedisReplayStoreOptions,
  type RedisSetNx,
} from './replay.js'
export { createSigner } from './signer.js'
export {
  type CreateSignerOptions,
  type CreateVerifierOptions,
  REFUSAL_REASONS,
  type RefusalReason,
  type ReplayStore,
  type SignableEvent,
  type SignatureAlgorithm,
  type SignatureAttributes,
  type Signer,
  type SigningKey,
  type Verified,
  type Verifier,
  type VerifierStats,
  type VerifyOptions,
} from './types.js'
export { createVerifier, DEFAULT_WINDOW_MS } from './verifier.js'
