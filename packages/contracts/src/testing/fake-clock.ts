import type { Clock } from '../clock.js'
import { CoreError } from '../errors.js'

/**
 * A {@link Clock} whose time moves only when a test moves it. Timers fire in time order (ties
 * in the order they were set) during {@link FakeClock.advance} / {@link FakeClock.runAll}.
 * @public
 */
export interface FakeClock extends Clock {
  /** The fake time, epoch milliseconds. */
  now(): number
  /** Schedules `handler` at `now() + delayMs` (a negative or non-finite delay counts as 0). */
  setTimeout(handler: () => void, delayMs: number): FakeTimer
  /** Cancels a timer; unknown, fired or foreign handles are ignored. */
  clearTimeout(handle: unknown): void
  /**
   * Moves time forward by `ms`, firing every timer that falls due on the way, in time order,
   * with the clock set to each timer's due time while it runs. Between timers, and at the end,
   * pending promise callbacks and I/O callbacks are flushed (one event-loop turn), so work a
   * timer starts (a TTL expiry publishing its change, a deadline rejecting a call) has settled
   * when the returned promise resolves. Timers set during the advance fire too if they fall due
   * before its end.
   * @param ms - Milliseconds to move forward, a finite number ≥ 0.
   * @throws {@link @core/contracts!CoreError} `E_VALIDATION` for a negative or non-finite `ms`; if a timer
   *   handler throws, the advance still completes and then rejects with the first such error.
   */
  advance(ms: number): Promise<void>
  /**
   * Fires every pending timer (and those they set), moving time to each one's due time;
   * stops with `E_TIMEOUT` after `maxTimers` (a self-rearming interval never ends).
   * @param maxTimers - Most timers to fire. @defaultValue 10_000
   */
  runAll(maxTimers?: number): Promise<void>
  /**
   * Moves time forward by `ms` and fires the timers that fall due on the way, in time order,
   * synchronously and without flushing promise callbacks in between (for code whose timers do
   * all their work synchronously). A handler that throws stops the tick with its error.
   * @param ms - Milliseconds to move forward, a finite number ≥ 0.
   * @throws {@link @core/contracts!CoreError} `E_VALIDATION` for a negative or non-finite `ms`.
   */
  tick(ms: number): void
  /** Moves time forward by `ms` without firing any timer (a late timer, a sleeping machine). */
  jump(ms: number): void
  /** The delays asked of `setTimeout`, in milliseconds, in call order. */
  readonly delays: readonly number[]
  /** Number of timers waiting to fire. */
  pending(): number
  /** The due time (epoch ms) of the next timer, or `undefined` when none waits. */
  nextDueAt(): number | undefined
}

/**
 * The handle {@link FakeClock.setTimeout} returns.
 * @public
 */
export interface FakeTimer {
  /** Sequence number of the timer (unique per clock). */
  readonly id: number
  /** When it falls due, epoch ms of the fake clock. */
  readonly dueAt: number
}

/** Options of {@link createFakeClock}. @public */
export interface CreateFakeClockOptions {
  /** The starting time, epoch milliseconds. @defaultValue 1735689600000 (2025-01-01T00:00:00Z) */
  now?: number
}

/** The default start of a fake clock: 2025-01-01T00:00:00Z. @public */
export const FAKE_CLOCK_EPOCH_MS = 1_735_689_600_000

interface Entry extends FakeTimer {
  handler: () => void
}

/**
 * Creates a fake {@link Clock}: `now()` stands still until {@link FakeClock.advance} moves it,
 * and timers set through it fire only then. Pass it to `createKernel({ clock })` (the mock hub
 * does) and state TTLs, service-call deadlines, lifecycle timeouts and plugin `ctx` timers all
 * follow it.
 *
 * @param options - `now`: the start time (epoch ms).
 * @returns A {@link FakeClock}.
 * @throws {@link @core/contracts!CoreError} `E_VALIDATION` when `now` is not a finite number.
 * @example
 * ```ts
 * const clock = createFakeClock()
 * let fired = false
 * clock.setTimeout(() => { fired = true }, 1_000)
 * await clock.advance(999)  // fired === false
 * await clock.advance(1)    // fired === true
 * ```
 * @public
 */
export function createFakeClock(options: CreateFakeClockOptions = {}): FakeClock {
  let time = options.now ?? FAKE_CLOCK_EPOCH_MS
  if (typeof time !== 'number' || !Number.isFinite(time)) {
    throw new CoreError(
      'E_VALIDATION',
      `Invalid fake clock start ${String(time)}: use epoch milliseconds`,
      {
        details: { now: time },
      },
    )
  }
  let seq = 0
  const timers = new Map<number, Entry>()

  const next = (until: number): Entry | undefined => {
    let best: Entry | undefined
    for (const t of timers.values()) {
      if (t.dueAt > until) continue
      if (best === undefined || t.dueAt < best.dueAt || (t.dueAt === best.dueAt && t.id < best.id))
        best = t
    }
    return best
  }

  const fire = async (entry: Entry, errors: unknown[]): Promise<void> => {
    timers.delete(entry.id)
    if (entry.dueAt > time) time = entry.dueAt
    try {
      entry.handler()
    } catch (error) {
      errors.push(error)
    }
    await flush()
  }

  const delays: number[] = []
  const checkMs = (ms: number, what: string): void => {
    if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) {
      throw new CoreError(
        'E_VALIDATION',
        `Cannot ${what} the fake clock by ${String(ms)} ms: use a finite number ≥ 0`,
        { details: { ms } },
      )
    }
  }

  const clock: FakeClock = {
    now: () => time,
    delays,
    tick: (ms) => {
      checkMs(ms, 'tick')
      const target = time + ms
      for (let t = next(target); t !== undefined; t = next(target)) {
        timers.delete(t.id)
        if (t.dueAt > time) time = t.dueAt
        t.handler()
      }
      time = target
    },
    jump: (ms) => {
      checkMs(ms, 'jump')
      time += ms
    },
    setTimeout: (handler, delayMs) => {
      delays.push(delayMs)
      const delay =
        typeof delayMs === 'number' && Number.isFinite(delayMs) && delayMs > 0 ? delayMs : 0
      const entry: Entry = { id: ++seq, dueAt: time + delay, handler }
      timers.set(entry.id, entry)
      return { id: entry.id, dueAt: entry.dueAt }
    },
    clearTimeout: (handle) => {
      if (typeof handle === 'object' && handle !== null && 'id' in handle) {
        const t = timers.get((handle as FakeTimer).id)
        if (t !== undefined && t.dueAt === (handle as FakeTimer).dueAt) timers.delete(t.id)
      }
    },
    advance: async (ms) => {
      checkMs(ms, 'advance')
      const target = time + ms
      const errors: unknown[] = []
      await flush()
      for (let t = next(target); t !== undefined; t = next(target)) await fire(t, errors)
      time = target
      await flush()
      if (errors.length > 0) throw errors[0]
    },
    runAll: async (maxTimers = 10_000) => {
      const errors: unknown[] = []
      let count = 0
      await flush()
      for (
        let t = next(Number.POSITIVE_INFINITY);
        t !== undefined;
        t = next(Number.POSITIVE_INFINITY)
      ) {
        if (count++ >= maxTimers) {
          throw new CoreError(
            'E_TIMEOUT',
            `runAll() fired ${maxTimers} timers and more keep coming (an interval?); use advance(ms) instead`,
            { details: { maxTimers } },
          )
        }
        await fire(t, errors)
      }
      if (errors.length > 0) throw errors[0]
    },
    pending: () => timers.size,
    nextDueAt: () => next(Number.POSITIVE_INFINITY)?.dueAt,
  }
  return clock
}

/** Lets queued promise callbacks and one round of I/O callbacks run. */
function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}
