import { type Clock, CoreError, namespaceOf } from '@core/contracts'
import type {
  CircuitBreakerOptions,
  CircuitState,
  RemoteRetryOptions,
  RemoteTransport,
  ServiceRegistryStats,
} from './types.js'

/** What the guard needs of one remote call. */
export interface GuardedCall {
  readonly name: string
  readonly deadlineAt: number
  /** True once the caller's promise settled (deadline, cancel). */
  readonly settled: boolean
  readonly signal: AbortSignal
}

const RETRYABLE = new Set(['E_UNAVAILABLE', 'E_TIMEOUT'])

interface Circuit {
  state: CircuitState
  /** Consecutive failures while closed. */
  failures: number
  /** When an open circuit lets a trial call through (epoch ms). */
  retryAt: number
  /** Times it opened. */
  opened: number
  /** Calls refused while open. */
  rejected: number
  /** A half-open trial is in flight. */
  trial: boolean
}

/**
 * The remote path's resilience: a circuit breaker per remote target (the service's namespace:
 * a remote plugin, whose calls the transport routes to the nodes serving it) and retries of
 * idempotent services. Only `E_UNAVAILABLE` and `E_TIMEOUT` count as failures of the target or
 * are retried: any other code is an answer from a live target.
 */
export class RemoteGuard {
  private readonly circuits = new Map<string, Circuit>()
  private readonly retries = new Map<string, number>()
  /** name → idempotent, from the transport's `list()`; refreshed at most every `refreshMs`. */
  private idempotent = new Map<string, boolean>()
  private listedAt = Number.NEGATIVE_INFINITY
  private listing: Promise<void> | undefined
  private readonly attempts: number
  private readonly baseDelayMs: number
  private readonly maxDelayMs: number
  private readonly refreshMs: number
  private readonly threshold: number
  private readonly resetMs: number

  constructor(
    private readonly clock: Clock,
    private readonly transport: RemoteTransport,
    retry: RemoteRetryOptions | false | undefined,
    breaker: CircuitBreakerOptions | false | undefined,
  ) {
    this.attempts = retry === false ? 1 : checkInt(retry?.attempts ?? 3, 'remoteRetry.attempts', 1)
    this.baseDelayMs = checkInt(retry ? (retry.baseDelayMs ?? 50) : 50, 'remoteRetry.baseDelayMs')
    this.maxDelayMs = checkInt(
      retry ? (retry.maxDelayMs ?? 1_000) : 1_000,
      'remoteRetry.maxDelayMs',
    )
    this.refreshMs = checkInt(retry ? (retry.refreshMs ?? 10_000) : 10_000, 'remoteRetry.refreshMs')
    this.threshold =
      breaker === false
        ? Number.POSITIVE_INFINITY
        : checkInt(breaker?.failureThreshold ?? 5, 'circuitBreaker.failureThreshold', 1)
    this.resetMs = checkInt(
      breaker ? (breaker.resetTimeoutMs ?? 10_000) : 10_000,
      'circuitBreaker.resetTimeoutMs',
      1,
    )
  }

  /** Runs `send` (one attempt) under the breaker, retrying while allowed. */
  async run(call: GuardedCall, send: () => Promise<unknown>): Promise<unknown> {
    const target = namespaceOf(call.name)
    for (let attempt = 1; ; attempt++) {
      const circuit = this.admit(target, call.name)
      let result: unknown
      try {
        result = await send()
      } catch (error) {
        const code = CoreError.is(error) ? error.code : undefined
        const failure = code !== undefined && RETRYABLE.has(code)
        if (failure) this.failed(circuit)
        else if (code === 'E_CANCELLED') circuit.trial = false
        else this.succeeded(circuit) // any other answer comes from a live target
        if (!failure || call.settled || attempt >= this.attempts) throw error
        const delayMs = this.backoff(attempt)
        if (this.clock.now() + delayMs >= call.deadlineAt) throw error
        if (!(await this.isIdempotent(call))) throw error
        if (call.settled) throw error
        this.retries.set(call.name, (this.retries.get(call.name) ?? 0) + 1)
        await this.sleep(delayMs, call.signal)
        if (call.settled) throw error
        continue
      }
      this.succeeded(circuit)
      return result
    }
  }

  stats(): ServiceRegistryStats['remote'] {
    const circuits: ServiceRegistryStats['remote']['circuits'] = []
    for (const [target, c] of this.circuits) {
      circuits.push({
        target,
        state: this.stateOf(c),
        failures: c.failures,
        opened: c.opened,
        rejected: c.rejected,
      })
    }
    return { retries: Object.fromEntries(this.retries), circuits }
  }

  /** The circuit of `target`, if it lets a call through; else throws `E_UNAVAILABLE`. */
  private admit(target: string, name: string): Circuit {
    let c = this.circuits.get(target)
    if (c === undefined) {
      c = { state: 'closed', failures: 0, retryAt: 0, opened: 0, rejected: 0, trial: false }
      if (this.circuits.size < 10_000) this.circuits.set(target, c)
    }
    if (c.state === 'closed') return c
    const now = this.clock.now()
    if (c.state === 'open' && now >= c.retryAt) c.state = 'half-open'
    if (c.state === 'half-open' && !c.trial) {
      c.trial = true
      return c
    }
    c.rejected++
    throw new CoreError(
      'E_UNAVAILABLE',
      `Remote target "${target}" is failing (${c.failures} calls in a row were unavailable or timed out), so the call to "${name}" was not sent; the circuit lets a trial call through in ${Math.max(0, c.retryAt - now)} ms. Retry later`,
      { details: { service: name, target, retryAt: c.retryAt } },
    )
  }

  private failed(c: Circuit): void {
    c.trial = false
    c.failures++
    if (c.state === 'half-open' || c.failures >= this.threshold) {
      if (c.state !== 'open') c.opened++
      c.state = 'open'
      c.retryAt = this.clock.now() + this.resetMs
    }
  }

  private succeeded(c: Circuit): void {
    c.trial = false
    c.failures = 0
    c.state = 'closed'
  }

  private stateOf(c: Circuit): CircuitState {
    return c.state === 'open' && this.clock.now() >= c.retryAt ? 'half-open' : c.state
  }

  /** Full jitter: uniform in [0, min(max, base × 2^(attempt-1))]. */
  private backoff(attempt: number): number {
    const cap = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (attempt - 1))
    return Math.floor(Math.random() * cap)
  }

  private async isIdempotent(call: GuardedCall): Promise<boolean> {
    const known = this.idempotent.get(call.name)
    const fresh = this.clock.now() - this.listedAt < this.refreshMs
    if (known !== undefined && fresh) return known
    if (this.transport.list === undefined) return false
    if (!fresh) {
      this.listing ??= this.refresh().finally(() => {
        this.listing = undefined
      })
      await this.listing
    }
    return this.idempotent.get(call.name) ?? false
  }

  private async refresh(): Promise<void> {
    try {
      const list = await (this.transport.list as NonNullable<RemoteTransport['list']>)()
      const next = new Map<string, boolean>()
      for (const d of list) next.set(d.name, (next.get(d.name) ?? true) && d.idempotent === true)
      this.idempotent = next
    } catch {
      // Unknown stays "not idempotent": no retry.
    }
    this.listedAt = this.clock.now()
  }

  private sleep(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (ms <= 0 || signal.aborted) return resolve()
      const done = (): void => {
        this.clock.clearTimeout(timer)
        signal.removeEventListener('abort', done)
        resolve()
      }
      const timer = this.clock.setTimeout(done, ms)
      signal.addEventListener('abort', done, { once: true })
    })
  }
}

function checkInt(value: unknown, option: string, min = 0): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new CoreError(
      'E_VALIDATION',
      `Invalid service registry option ${option} ${JSON.stringify(value)}: expected an integer ≥ ${min}`,
      { details: { option, received: value } },
    )
  }
  return value
}
