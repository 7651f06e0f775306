import type { Clock } from '@core/contracts'

/**
 * Longest delay handed to the clock in one go: Node's timers fire at once (with a
 * `TimeoutOverflowWarning`) for anything above 2^31-1 ms, so longer deadlines are reached in
 * steps of this size.
 * @internal
 */
export const MAX_TIMER_DELAY_MS = 2_147_483_647

/** One scheduled expiry. @internal */
export interface ExpiryItem {
  /** When the entry expires, epoch ms. */
  deadlineAt: number
  /**
   * The item's place in the heap, epoch ms: its deadline when pushed. A later deadline for the
   * same key only moves `deadlineAt`; when the item surfaces early it is pushed back once.
   */
  heapAt: number
  namespace: string
  key: string
  /** The revision that carries this deadline; a newer write makes this item stale. */
  revision: number
  /** Set when a later write or delete replaced this deadline; skipped when popped. */
  stale: boolean
}

/** The TTL scheduler of one engine. @internal */
export interface ExpiryScheduler {
  /** Schedules (or reschedules) the expiry of `namespace`/`key` at `revision`. */
  schedule(namespace: string, key: string, revision: number, deadlineAt: number): void
  /** Forgets the pending expiry of `namespace`/`key`, if any. */
  cancel(namespace: string, key: string): void
  /** Live (not stale) deadlines held. */
  size(): number
  /** Stops the timer and forgets every deadline. */
  stop(): void
}

/**
 * One scheduler for every TTL of an engine: a binary min-heap of deadlines and a single timer
 * from `clock`, always armed for the earliest deadline. When it fires, every item due at
 * `clock.now()` is handed to `onDue` in deadline order, then the timer is re-armed.
 *
 * A key written again with a later deadline (a refreshed TTL, the usual case) keeps its heap
 * item and only moves the item's `deadlineAt`: O(1), no allocation; the item is pushed back
 * once when it surfaces before its deadline. An earlier deadline, or a delete, marks the old
 * item stale instead of searching the heap for it; the heap is rebuilt without stale items
 * once they outnumber the live ones, so memory stays proportional to the keys with a TTL.
 *
 * @param clock - Time source and timer.
 * @param onDue - Called for each item that is due; must not throw (errors are its own).
 * @internal
 */
export function createExpiryScheduler(
  clock: Clock,
  onDue: (item: ExpiryItem) => void,
): ExpiryScheduler {
  const heap: ExpiryItem[] = []
  const current = new Map<string, ExpiryItem>()
  let stale = 0
  let timer: unknown
  let armedAt = Number.POSITIVE_INFINITY
  let stopped = false

  const markStale = (id: string): void => {
    const old = current.get(id)
    if (old === undefined) return
    old.stale = true
    stale++
    current.delete(id)
  }

  const compact = (): void => {
    if (stale <= 64 || stale <= current.size) return
    const live = heap.filter((item) => !item.stale)
    heap.length = 0
    for (const item of live) heap.push(item)
    for (let i = (heap.length >> 1) - 1; i >= 0; i--) siftDown(heap, i)
    stale = 0
  }

  const arm = (): void => {
    while (heap.length > 0 && (heap[0] as ExpiryItem).stale) {
      pop(heap)
      stale--
    }
    const first = heap[0]
    if (first === undefined || stopped) {
      disarm()
      return
    }
    if (first.heapAt >= armedAt && timer !== undefined) return
    disarm()
    armedAt = first.heapAt
    const delay = Math.min(MAX_TIMER_DELAY_MS, Math.max(0, first.heapAt - clock.now()))
    timer = clock.setTimeout(fire, delay)
  }

  const disarm = (): void => {
    if (timer !== undefined) clock.clearTimeout(timer)
    timer = undefined
    armedAt = Number.POSITIVE_INFINITY
  }

  const fire = (): void => {
    timer = undefined
    armedAt = Number.POSITIVE_INFINITY
    const now = clock.now()
    while (!stopped && heap.length > 0 && (heap[0] as ExpiryItem).heapAt <= now) {
      const item = pop(heap) as ExpiryItem
      if (item.stale) {
        stale--
        continue
      }
      if (item.deadlineAt > now) {
        item.heapAt = item.deadlineAt
        push(heap, item)
        continue
      }
      current.delete(idOf(item.namespace, item.key))
      onDue(item)
    }
    arm()
  }

  return {
    schedule(namespace, key, revision, deadlineAt) {
      if (stopped) return
      const id = idOf(namespace, key)
      const held = current.get(id)
      if (held !== undefined && deadlineAt >= held.heapAt) {
        held.deadlineAt = deadlineAt
        held.revision = revision
        return
      }
      markStale(id)
      const item: ExpiryItem = {
        deadlineAt,
        heapAt: deadlineAt,
        namespace,
        key,
        revision,
        stale: false,
      }
      current.set(id, item)
      push(heap, item)
      compact()
      arm()
    },
    cancel(namespace, key) {
      if (current.size === 0) return
      markStale(idOf(namespace, key))
      compact()
    },
    size: () => current.size,
    stop() {
      stopped = true
      disarm()
      heap.length = 0
      current.clear()
      stale = 0
    },
  }
}

function idOf(namespace: string, key: string): string {
  return `${namespace}\u0000${key}`
}

function push(heap: ExpiryItem[], item: ExpiryItem): void {
  heap.push(item)
  let i = heap.length - 1
  while (i > 0) {
    const parent = (i - 1) >> 1
    if ((heap[parent] as ExpiryItem).heapAt <= item.heapAt) break
    heap[i] = heap[parent] as ExpiryItem
    i = parent
  }
  heap[i] = item
}

function pop(heap: ExpiryItem[]): ExpiryItem | undefined {
  const top = heap[0]
  const last = heap.pop()
  if (heap.length > 0 && last !== undefined) {
    heap[0] = last
    siftDown(heap, 0)
  }
  return top
}

function siftDown(heap: ExpiryItem[], start: number): void {
  const n = heap.length
  const item = heap[start] as ExpiryItem
  let i = start
  for (;;) {
    const left = 2 * i + 1
    if (left >= n) break
    const right = left + 1
    const child =
      right < n && (heap[right] as ExpiryItem).heapAt < (heap[left] as ExpiryItem).heapAt
        ? right
        : left
    if ((heap[child] as ExpiryItem).heapAt >= item.heapAt) break
    heap[i] = heap[child] as ExpiryItem
    i = child
  }
  heap[i] = item
}
