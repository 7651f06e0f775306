/**
 * A first-in, first-out async lock, for adapters that must run one transaction at a time over a
 * single connection (the memory and SQLite adapters do). `acquire()` resolves when the caller
 * holds the lock; `release()` hands it to the longest waiter, or frees it.
 *
 * Not re-entrant: acquiring it again while holding it waits forever.
 *
 * @example
 * ```ts
 * const lock = new FifoLock()
 * await lock.acquire()
 * try {
 *   // exclusive work
 * } finally {
 *   lock.release()
 * }
 * ```
 * @public
 */
export class FifoLock {
  /** True while someone holds the lock. */
  held = false
  private readonly waiting: (() => void)[] = []

  /** Resolves once the caller holds the lock, after every earlier caller released it. */
  acquire(): Promise<void> {
    if (!this.held) {
      this.held = true
      return Promise.resolve()
    }
    return new Promise((resolve) => this.waiting.push(resolve))
  }

  /** Hands the lock to the next waiter, or frees it when nobody waits. */
  release(): void {
    const next = this.waiting.shift()
    if (next) next()
    else this.held = false
  }
}
