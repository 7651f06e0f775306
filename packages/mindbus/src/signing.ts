import { CoreError, type Logger, type RateLimitedLogger, rateLimited } from '@core/contracts'
import {
  createMemoryReplayStore,
  createSigner,
  createVerifier,
  type RefusalReason,
  type ReplayStore,
  type Signer,
  type Verifier,
} from '@core/signing'
import type { Envelope } from './envelope.js'
import type { MindBusSigningOptions, MindBusStats } from './types.js'

/** What a signed MindBus message is: the four kinds of the spec. */
export type MessageKind = 'command' | 'result' | 'event' | 'control'

/** `user_id` given to the verifier when a message has none: matches no key owner. */
const NO_USER = '(no AMQP user_id)'

/**
 * Refusals that are about the message's form or age (`E_VALIDATION`); every other reason
 * (unsigned, unknown key, bad signature, owner mismatch, replay) is `E_FORBIDDEN`.
 */
const VALIDATION_REASONS: ReadonlySet<RefusalReason> = new Set<RefusalReason>([
  'unknown-algorithm',
  'no-time',
  'expired',
  'future',
])

/**
 * Signs what a node sends and verifies what it receives, when signing is on. Commands and
 * results are point to point: their `(source, id)` pairs go to the replay store as they are, so
 * a store shared by the hubs (Redis) catches a command replayed to another hub. Events and
 * control signals fan out to every bound node: their pairs are kept per receiving node, so the
 * same event reaching two hubs is not a replay, while a second copy at one hub is.
 */
export class MessageGuard {
  private readonly signer: Signer | undefined
  private readonly shared: Verifier | undefined
  private readonly perNode: Verifier | undefined
  private readonly required: boolean
  private readonly limited: RateLimitedLogger

  constructor(
    options: MindBusSigningOptions | undefined,
    nodeId: string,
    private readonly stats: MindBusStats,
    logger: Logger,
  ) {
    this.required = options?.required ?? true
    this.limited = rateLimited(logger, { intervalMs: 10_000, burst: 5 })
    if (options === undefined || options.enabled === false) return
    this.signer = createSigner({ keys: options.keys, keyId: options.keyId })
    const replay = options.replay ?? createMemoryReplayStore()
    const base = {
      keys: options.keys,
      ...(options.windowMs === undefined ? {} : { windowMs: options.windowMs }),
    }
    this.shared = createVerifier({ ...base, replay })
    this.perNode = createVerifier({ ...base, replay: receiverScoped(replay, nodeId) })
  }

  /** True when messages are signed and verified. */
  get enabled(): boolean {
    return this.signer !== undefined
  }

  /** The envelope with `sigalg`, `sigkid` and `sig` when signing is on; else as given. */
  seal<E extends Envelope>(envelope: E): E {
    return this.signer === undefined ? envelope : this.signer.sign(envelope)
  }

  /**
   * Verifies a received envelope: its signature, that the key's owner is the AMQP `user_id`
   * RabbitMQ vouched for, its age and that it is not a replay. A command the broker redelivers
   * (`redelivered`: the first delivery was not acked) is not a replay: it passed every other
   * check, and the command dedup answers it.
   * @returns `undefined` when accepted (or signing is off), else the refusal: `E_FORBIDDEN` or
   *   `E_VALIDATION` with `details.reason`, counted in `stats.signatureRefused` and logged
   *   (rate-limited).
   */
  async check(
    envelope: Envelope,
    kind: MessageKind,
    userId: string | undefined,
    redelivered = false,
  ): Promise<CoreError | undefined> {
    const verifier = kind === 'command' || kind === 'result' ? this.shared : this.perNode
    if (verifier === undefined) return undefined
    const e = envelope as Envelope & { sig?: unknown; sigalg?: unknown; sigkid?: unknown }
    if (!this.required && e.sig === undefined && e.sigalg === undefined && e.sigkid === undefined) {
      return undefined
    }
    try {
      await verifier.verify(envelope, { owner: userId ?? NO_USER })
      this.stats.signatureVerified++
      return undefined
    } catch (error) {
      const reason = (
        CoreError.is(error) ? (error.details as { reason?: string } | undefined)?.reason : undefined
      ) as RefusalReason | undefined
      if (reason === undefined) {
        // The replay store failed (Redis down): refuse, the sender may retry.
        return this.refuse(
          kind,
          envelope,
          new CoreError(
            'E_UNAVAILABLE',
            `MindBus cannot check ${kind} ${envelope.id} for replay: ${(error as Error).message}; retry when the replay store is back`,
            { cause: error, details: { reason: 'replay-store' } },
          ),
          'replay-store',
        )
      }
      if (reason === 'replayed' && redelivered && kind === 'command') {
        this.stats.signatureVerified++
        return undefined
      }
      const code = VALIDATION_REASONS.has(reason) ? 'E_VALIDATION' : 'E_FORBIDDEN'
      return this.refuse(
        kind,
        envelope,
        new CoreError(
          code,
          `MindBus refused a ${kind} from "${envelope.source}" (${reason}): ${(error as Error).message}`,
          {
            details: {
              reason,
              kind,
              id: envelope.id,
              source: envelope.source,
              ...(userId === undefined ? {} : { user: userId }),
            },
          },
        ),
        reason,
      )
    }
  }

  private refuse(
    kind: MessageKind,
    envelope: Envelope,
    error: CoreError,
    reason: string,
  ): CoreError {
    const counts = this.stats.signatureRefused
    counts[reason] = (counts[reason] ?? 0) + 1
    this.limited.warn(
      `mindbus.signature.${reason}`,
      { kind, reason, id: envelope.id, source: envelope.source },
      error.message,
    )
    return error
  }
}

/** The store with pairs kept per receiving node (events and control fan out to many nodes). */
function receiverScoped(store: ReplayStore, nodeId: string): ReplayStore {
  return {
    remember: (source, id, ttlMs) => store.remember(`${source}\u0000@${nodeId}`, id, ttlMs),
  }
}
