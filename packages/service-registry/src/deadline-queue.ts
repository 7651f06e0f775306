import type { Clock } from '@core/contracts'

/** Something with a deadline, kept in a {@link DeadlineQueue}. @internal */
export interface Deadline {
  /** Milliseconds after its start at which the item expires. */
  readonly timeoutMs: number
  /** Epoch milliseconds (the queue's clock) at which it expires; NaN until stamped. */
  due: number
  /** Owned by the queue: ≥ 0 position in the heap, {@link OPEN} waiting for a stamp, -1 out. */
  heapIndex: number
  /** Called once, after the item has left the queue, when its deadline has passed. */
  expire(): void
}

/** `heapIndex` of an item added but not yet stamped with a start time. @internal */
export const OPEN = -2

/** Longest delay Node's timers accept (2^31 - 1 ms); longer waits re-arm when it fires. */
const MAX_DELAY_MS = 2_147_483_647

/** Most items stamped with one clock reading. */
const BATCH = 64

/**
 * Every pending call's deadline, in one binary min-heap watched by one clock timer.
 *
 * - `remove` (a call that settled) never touches the timer: a timer that fires with nothing due
 *   just re-arms for the earliest deadline left, or stays off. So a stream of calls that finish
 *   in time arms about one timer per timeout period, not one per call.
 * - With the system clock, reading the time costs more than the rest of a call here (a VM
 *   clock source), so items are stamped in batches: `add` only appends the item to an open
 *   batch, which is stamped with one clock reading when it reaches {@link BATCH} items, when
 *   the current turn of the event loop ends (`setImmediate`), when someone reads a member's
 *   deadline, or when the timer fires — whichever comes first. The reading is taken after every
 *   member started, so a deadline can be late by the rest of the event-loop turn in which its
 *   call started (as a timer can be), and never early. Items that settle before the stamp never
 *   enter the heap.
 * - With any other clock (a test's or the mock hub's fake clock) every item is stamped at `add`,
 *   so time moved by hand is exact.
 * @internal
 */
export class DeadlineQueue {
  private readonly heap: Deadline[] = []
  private readonly open: Deadline[] = []
  private readonly clock: Clock
  private readonly batched: boolean
  private timer: unknown = undefined
  /** The deadline the timer is armed for; Infinity when it is off. */
  private armedFor = Number.POSITIVE_INFINITY
  private stampScheduled = false
  private readonly onTimer: () => void
  private readonly onImmediate: () => void

  constructor(clock: Clock, batched: boolean) {
    this.clock = clock
    this.batched = batched
    this.onTimer = () => this.fire()
    this.onImmediate = () => {
      this.stampScheduled = false
      this.stamp()
    }
  }

  /** Items waiting: in the heap or in the open batch (settled ones included until stamped). */
  get size(): number {
    return this.heap.length + this.open.length
  }

  add(item: Deadline): void {
    if (!this.batched) {
      item.due = this.clock.now() + item.timeoutMs
      this.insert(item)
      return
    }
    item.heapIndex = OPEN
    const n = this.open.push(item)
    if (n >= BATCH) this.stamp()
    else if (!this.stampScheduled) {
      this.stampScheduled = true
      const handle: { unref?: () => void } = setImmediate(this.onImmediate)
      handle.unref?.()
    }
  }

  remove(item: Deadline): void {
    const i = item.heapIndex
    if (i < 0) {
      item.heapIndex = -1 // an OPEN item is skipped when its batch is stamped
      return
    }
    item.heapIndex = -1
    const heap = this.heap
    const last = heap.pop() as Deadline
    if (i === heap.length) return
    heap[i] = last
    last.heapIndex = i
    this.down(i)
    if (last.heapIndex === i) this.up(i)
  }

  /** Makes sure `item.due` is set: stamps its open batch, or (settled, never stamped) now. */
  settleDue(item: Deadline): void {
    if (item.heapIndex === OPEN) this.stamp()
    if (Number.isNaN(item.due)) item.due = this.clock.now() + item.timeoutMs
  }

  /** Stamps the open batch with one clock reading and moves its live items into the heap. */
  private stamp(): void {
    const open = this.open
    if (open.length === 0) return
    const now = this.clock.now()
    for (let i = 0; i < open.length; i++) {
      const item = open[i] as Deadline
      if (item.heapIndex !== OPEN) continue
      item.due = now + item.timeoutMs
      this.insert(item)
    }
    open.length = 0
  }

  private insert(item: Deadline): void {
    const heap = this.heap
    item.heapIndex = heap.length
    heap.push(item)
    this.up(item.heapIndex)
    if (item.due < this.armedFor) this.arm(item.due)
  }

  private fire(): void {
    this.timer = undefined
    this.armedFor = Number.POSITIVE_INFINITY
    this.stamp()
    const heap = this.heap
    const now = this.clock.now()
    while (heap.length > 0 && (heap[0] as Deadline).due <= now) {
      const item = heap[0] as Deadline
      this.remove(item)
      item.expire()
    }
    const next = heap[0]
    if (next !== undefined && next.due < this.armedFor) this.arm(next.due)
  }

  private arm(at: number): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer)
    this.armedFor = at
    const delay = Math.min(MAX_DELAY_MS, Math.max(1, at - this.clock.now()))
    this.timer = this.clock.setTimeout(this.onTimer, delay)
  }

  private up(i: number): void {
    const heap = this.heap
    const item = heap[i] as Deadline
    while (i > 0) {
      const p = (i - 1) >> 1
      const parent = heap[p] as Deadline
      if (parent.due <= item.due) break
      heap[i] = parent
      parent.heapIndex = i
      i = p
    }
    heap[i] = item
    item.heapIndex = i
  }

  private down(i: number): void {
    const heap = this.heap
    const n = heap.length
    const item = heap[i] as Deadline
    for (;;) {
      const l = 2 * i + 1
      if (l >= n) break
      const r = l + 1
      let c = l
      if (r < n && (heap[r] as Deadline).due < (heap[l] as Deadline).due) c = r
      const child = heap[c] as Deadline
      if (child.due >= item.due) break
      heap[i] = child
      child.heapIndex = i
      i = c
    }
    heap[i] = item
    item.heapIndex = i
  }
}
