import type { Clock } from '@core/contracts'

/** A Clock driven by hand: `advance(ms)` moves time and runs the timers that came due, in order. */
export interface FakeClock extends Clock {
  advance(ms: number): void
  /** Timers waiting. */
  readonly pending: number
}

export function createFakeClock(start = 1_700_000_000_000): FakeClock {
  let now = start
  let seq = 0
  const timers = new Map<number, { at: number; seq: number; handler: () => void }>()
  return {
    now: () => now,
    setTimeout(handler, delayMs) {
      const id = ++seq
      timers.set(id, { at: now + Math.max(0, delayMs), seq: id, handler })
      return id
    },
    clearTimeout(handle) {
      timers.delete(handle as number)
    },
    advance(ms) {
      const end = now + ms
      for (;;) {
        let next: { id: number; at: number; seq: number; handler: () => void } | undefined
        for (const [id, t] of timers) {
          if (
            t.at <= end &&
            (next === undefined || t.at < next.at || (t.at === next.at && t.seq < next.seq))
          ) {
            next = { id, ...t }
          }
        }
        if (next === undefined) break
        timers.delete(next.id)
        now = Math.max(now, next.at)
        next.handler()
      }
      now = end
    },
    get pending() {
      return timers.size
    },
  }
}
