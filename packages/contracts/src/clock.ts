/**
 * Time as the kernel sees it. Everything that waits (deadlines, TTLs, heartbeats) goes through
 * a Clock, so tests and the mock hub can drive time by hand.
 * @public
 */
export interface Clock {
  /** Wall-clock time in epoch milliseconds. */
  now(): number
  /** Runs `handler` once after `delayMs` milliseconds; returns a handle for {@link Clock.clearTimeout}. */
  setTimeout(handler: () => void, delayMs: number): unknown
  /** Cancels a pending {@link Clock.setTimeout}; unknown or fired handles are ignored. */
  clearTimeout(handle: unknown): void
}

/**
 * The real clock: `Date.now()` and Node's timers. Timers are `unref()`ed so that a pending
 * deadline never keeps the process alive on its own.
 * @public
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (handler, delayMs) => {
    const t = setTimeout(handler, delayMs)
    t.unref?.()
    return t
  },
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
}
