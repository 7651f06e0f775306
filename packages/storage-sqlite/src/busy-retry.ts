import { CoreError } from '@core/contracts'
import { storageError, target } from './sqlite-errors.js'

/** Attempts repeated because the database was busy, for `busyRetries()`. */
export interface BusyCounter {
  retries: number
}

/**
 * Runs `run`, retrying on SQLITE_BUSY with backoff 1, 2, 4 … 100 ms until `timeoutMs` passed.
 * @throws {@link @core/contracts!CoreError} `E_STORAGE` when still locked after `timeoutMs`, or when `run` fails otherwise.
 */
export async function retryBusy<T>(
  run: () => T,
  timeoutMs: number,
  busy: BusyCounter,
  what: string,
  ns?: string,
  key?: string,
): Promise<T> {
  const start = Date.now()
  let delay = 1
  for (;;) {
    try {
      return run()
    } catch (error) {
      if (!isBusy(error)) throw storageError(error, what, ns, key)
      const waited = Date.now() - start
      if (waited >= timeoutMs) {
        throw new CoreError(
          'E_STORAGE',
          `SQLite database is locked by another connection: could not ${what}${target(ns, key)} within ${timeoutMs} ms; check for another process holding a long transaction, or raise busyTimeoutMs`,
          { cause: error, details: { namespace: ns, key, waitedMs: waited } },
        )
      }
      busy.retries++
      await new Promise((resolve) => setTimeout(resolve, Math.min(delay, timeoutMs - waited)))
      delay = Math.min(delay * 2, 100)
    }
  }
}

export function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code
  return (
    typeof code === 'string' &&
    (code === 'SQLITE_BUSY' || code.startsWith('SQLITE_BUSY_') || code === 'SQLITE_LOCKED')
  )
}
