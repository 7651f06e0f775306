import { type Clock, CoreError, type NodePassport, toCoreError } from '@core/contracts'
import type { NodeRecord, NodeRegistryBackend } from './backend.js'
import { validatePassport } from './passport.js'
import type { NodeLease, NodeLeasePatch } from './types.js'

/** What a lease needs from its registry. @internal */
export interface LeaseHost {
  clock: Clock
  backend: NodeRegistryBackend
  heartbeatIntervalMs: number
  ttlMs: number
  /** Called with each backend failure (the registry turns `degraded`) and each success. */
  reportBackend(error: unknown): void
  /** Called once the lease is released. */
  forget(lease: LeaseLoop): void
}

/** First retry delay after a failed heartbeat; doubles up to one interval. */
const FIRST_RETRY_MS = 100

/**
 * The heartbeat loop behind a {@link NodeLease}: one timer, re-armed after each attempt.
 * @internal
 */
export class LeaseLoop {
  private record: NodeRecord
  private timer: unknown
  private failures = 0
  private released = false
  private inFlight: Promise<void> | undefined

  constructor(
    private readonly host: LeaseHost,
    record: NodeRecord,
  ) {
    this.record = record
  }

  get uid(): string {
    return this.record.passport.metadata.uid
  }

  get passport(): NodePassport {
    return this.record.passport
  }

  /** Stores the passport and heartbeats once; failures leave the loop retrying. */
  async start(): Promise<void> {
    try {
      await this.host.backend.put(this.record)
    } catch (error) {
      this.host.reportBackend(error)
    }
    await this.beat().catch(() => {})
  }

  /** Replaces the passport (a second `register` of the same uid). */
  async replace(record: NodeRecord): Promise<void> {
    this.record = { ...record, registeredAt: this.record.registeredAt }
    await this.host.backend.put(this.record).catch((error: unknown) => {
      this.host.reportBackend(error)
    })
    await this.beat().catch(() => {})
  }

  async heartbeat(): Promise<void> {
    this.ensureLive()
    await this.beat()
  }

  async update(
    patch: NodeLeasePatch,
    converters: Parameters<typeof validatePassport>[1],
  ): Promise<NodePassport> {
    this.ensureLive()
    const current = this.record.passport
    const next: Record<string, unknown> = {
      ...current,
      metadata:
        patch.labels === undefined
          ? current.metadata
          : { ...current.metadata, labels: patch.labels },
      spec:
        patch.capabilities === undefined
          ? current.spec
          : { ...current.spec, capabilities: patch.capabilities },
    }
    if (patch.status !== undefined) next.status = patch.status
    const passport = validatePassport(next, converters)
    this.record = { passport, registeredAt: this.record.registeredAt }
    try {
      await this.host.backend.put(this.record)
      this.host.reportBackend(undefined)
    } catch (error) {
      this.host.reportBackend(error)
      throw toCoreError(error, 'E_UNAVAILABLE', `Could not store the passport of node ${this.uid}`)
    }
    return passport
  }

  async release(): Promise<void> {
    if (this.released) return
    this.released = true
    this.host.clock.clearTimeout(this.timer)
    this.host.forget(this)
    await this.inFlight?.catch(() => {})
    try {
      await this.host.backend.remove(this.uid)
    } catch (error) {
      this.host.reportBackend(error)
      throw toCoreError(error, 'E_UNAVAILABLE', `Could not remove node ${this.uid}`)
    }
  }

  /** Stops the loop without removing the node (registry close). */
  stop(): void {
    this.released = true
    this.host.clock.clearTimeout(this.timer)
  }

  /** The public face: a plain frozen object, nothing internal reachable. */
  toLease(converters: Parameters<typeof validatePassport>[1]): NodeLease {
    const release = (): Promise<void> => this.release()
    const loop = this
    return Object.freeze({
      uid: this.uid,
      get passport(): NodePassport {
        return loop.passport
      },
      heartbeat: (): Promise<void> => this.heartbeat(),
      update: (patch: NodeLeasePatch): Promise<NodePassport> => this.update(patch, converters),
      release,
      [Symbol.asyncDispose]: release,
    })
  }

  private async beat(): Promise<void> {
    this.host.clock.clearTimeout(this.timer)
    const attempt = this.host.backend.heartbeat(this.record, this.host.ttlMs)
    this.inFlight = attempt
    try {
      await attempt
      this.failures = 0
      this.host.reportBackend(undefined)
      this.arm(this.host.heartbeatIntervalMs)
    } catch (error) {
      this.failures++
      this.host.reportBackend(error)
      const backoff = Math.min(
        this.host.heartbeatIntervalMs,
        FIRST_RETRY_MS * 2 ** Math.min(this.failures - 1, 20),
      )
      this.arm(backoff)
      throw toCoreError(error, 'E_UNAVAILABLE', `Heartbeat of node ${this.uid} failed (retrying)`)
    }
  }

  private arm(delayMs: number): void {
    if (this.released) return
    this.host.clock.clearTimeout(this.timer)
    this.timer = this.host.clock.setTimeout(() => {
      this.beat().catch(() => {})
    }, delayMs)
  }

  private ensureLive(): void {
    if (this.released) {
      throw new CoreError(
        'E_CANCELLED',
        `The lease of node ${this.uid} was released; register again`,
      )
    }
  }
}
