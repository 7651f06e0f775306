import type { Clock } from '@core/contracts'

/** A clock driven by hand: `advance(ms)` moves time and fires due timers in deadline order. */
export interface ManualClock extends Clock {
  advance(ms: number): void
  /** Moves `now` without firing timers (a timer that is late, or a sleeping machine). */
  jump(ms: number): void
  pending(): number
  /** Delays asked of setTimeout, in call order. */
  readonly delays: number[]
}

export function createManualClock(start = 1_700_000_000_000): ManualClock {
  let now = start
  let seq = 0
  const timers = new Map<number, { at: number; seq: number; handler: () => void }>()
  const delays: number[] = []
  return {
    delays,
    now: () => now,
    setTimeout(handler, delayMs) {
      delays.push(delayMs)
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
        let next: [number, { at: number; seq: number; handler: () => void }] | undefined
        for (const entry of timers) {
          if (entry[1].at > end) continue
          if (
            next === undefined ||
            entry[1].at < next[1].at ||
            (entry[1].at === next[1].at && entry[1].seq < next[1].seq)
          )
            next = entry
        }
        if (next === undefined) break
        timers.delete(next[0])
        now = Math.max(now, next[1].at)
        next[1].handler()
      }
      now = end
    },
    jump(ms) {
      now += ms
    },
    pending: () => timers.size,
  }
}
