import type { CloudEvent } from '@core/contracts'
import type { EventHandler, OverflowPolicy, PublishReport } from './types.js'

/** The resolver of the promise an awaited `publish` returned. @internal */
export type Resolve = (report: PublishReport) => void

/**
 * Who waits for a queued event's outcome: a {@link Delivery} when the publish matched several
 * subscriptions, the publish promise's resolver itself when it matched one (no bookkeeping
 * object needed), `null` for a fire-and-forget publish.
 * @internal
 */
export type Waiter = Delivery | Resolve | null

/** What became of one event at one subscription. @internal */
export type Outcome = 'delivered' | 'failed' | 'dropped'

/**
 * The bookkeeping of one awaited publish that matched several subscriptions: its report, and
 * how many of them have not yet settled.
 * @internal
 */
export class Delivery {
  readonly report: PublishReport
  pending: number
  private readonly resolve: Resolve

  constructor(id: string, matched: number, resolve: Resolve) {
    this.report = { id, matched, delivered: 0, failed: 0, dropped: 0 }
    this.pending = matched
    this.resolve = resolve
  }

  /** Counts `count` subscriptions' outcome; resolves the publish when none is pending. */
  count(outcome: Outcome, count = 1): void {
    this.report[outcome] += count
    this.pending -= count
    if (this.pending === 0) this.resolve(this.report)
  }
}

/** Reports `outcome` to `waiter` for the event `id`. @internal */
export function settle(waiter: Waiter, id: string, outcome: Outcome): void {
  if (waiter === null) return
  if (typeof waiter === 'function') {
    waiter({
      id,
      matched: 1,
      delivered: outcome === 'delivered' ? 1 : 0,
      failed: outcome === 'failed' ? 1 : 0,
      dropped: outcome === 'dropped' ? 1 : 0,
    })
  } else waiter.count(outcome)
}

/**
 * A pending report promise; its resolver is {@link lastResolver}() until the next call. A
 * module-level executor: no closure is allocated per publish.
 * @internal
 */
export function pendingReport(): Promise<PublishReport> {
  return new Promise(capture)
}

/** The resolver of the promise made by the last {@link pendingReport} call. @internal */
export function lastResolver(): Resolve {
  return captured as Resolve
}

let captured: Resolve | undefined
function capture(resolve: Resolve): void {
  captured = resolve
}

/**
 * One subscription: its handler and a bounded FIFO of events waiting for it (a ring buffer
 * of two parallel arrays, so queueing allocates nothing once it has grown).
 * @internal
 */
export class Subscription {
  readonly pattern: string
  readonly name: string
  readonly handler: EventHandler
  readonly maxQueue: number
  readonly overflow: OverflowPolicy
  /** Removed: queued events were discarded, nothing more is queued. */
  closed = false
  /** A drain is scheduled or running. */
  running = false
  /** Events dropped since the queue last overflowed (0 = not overflowing). */
  overflowDrops = 0
  /** Starts a drain; set by the bus. */
  run: () => void = noop
  /** Removes the abort listener, if any; set by the bus. */
  detach: () => void = noop
  /** The handler's promise for {@link Subscription.current} has not settled yet. */
  awaiting = false
  /** The event whose handler promise is awaited. */
  current: CloudEvent | undefined = undefined
  /** Who waits for it. */
  currentWaiter: Waiter = null
  /** Settle callbacks of the handler's promise; set by the bus. */
  resolved: (value: unknown) => void = noop
  rejected: (error: unknown) => void = noop

  private events: (CloudEvent | undefined)[] = new Array(4)
  private waiters: Waiter[] = new Array(4).fill(null)
  private head = 0
  private mask = 3
  size = 0

  constructor(
    pattern: string,
    name: string,
    handler: EventHandler,
    maxQueue: number,
    overflow: OverflowPolicy,
  ) {
    this.pattern = pattern
    this.name = name
    this.handler = handler
    this.maxQueue = maxQueue
    this.overflow = overflow
  }

  /** Appends an event (the caller has checked `size < maxQueue`). */
  push(event: CloudEvent, waiter: Waiter): void {
    if (this.size > this.mask) this.grow()
    const at = (this.head + this.size) & this.mask
    this.events[at] = event
    this.waiters[at] = waiter
    this.size++
  }

  /** The oldest waiting event (the caller has checked `size > 0`). */
  firstEvent(): CloudEvent {
    return this.events[this.head] as CloudEvent
  }

  /** Who waits for the oldest waiting event. */
  firstWaiter(): Waiter {
    return this.waiters[this.head] as Waiter
  }

  /** Removes the oldest waiting event. */
  shift(): void {
    this.events[this.head] = undefined
    this.waiters[this.head] = null
    this.head = (this.head + 1) & this.mask
    this.size--
  }

  private grow(): void {
    const capacity = (this.mask + 1) * 2
    const events: (CloudEvent | undefined)[] = new Array(capacity)
    const waiters: Waiter[] = new Array(capacity).fill(null)
    for (let i = 0; i < this.size; i++) {
      const from = (this.head + i) & this.mask
      events[i] = this.events[from]
      waiters[i] = this.waiters[from] as Waiter
    }
    this.events = events
    this.waiters = waiters
    this.head = 0
    this.mask = capacity - 1
  }
}

function noop(): void {}
