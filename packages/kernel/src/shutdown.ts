import { CoreError } from '@core/contracts'
import type { KernelState } from './kernel-state.js'
import { withTimeout } from './lifecycle.js'
import { fail } from './plugin-record.js'
import { stopStep, unloadStep } from './plugin-steps.js'
import type { StopReport } from './types.js'

/**
 * Runs `work` (a shutdown) with one ref'd timer keeping the event loop alive until it settles.
 *
 * The kernel's own timers are unref'd (they must not keep an idle process alive), so without
 * it a plugin whose `stop()` never settles and holds nothing open would let Node exit (code 13,
 * unsettled top-level await) before the shutdown deadline fires.
 * @internal
 */
export async function keepingAlive<T>(work: () => Promise<T>): Promise<T> {
  const keepAlive = setInterval(() => {}, 1 << 30)
  try {
    return await work()
  } finally {
    clearInterval(keepAlive)
  }
}

/**
 * Stops and unloads every plugin in reverse start order under one deadline (epoch ms of the
 * kernel's clock); a plugin whose turn comes after the deadline is failed as abandoned.
 * @internal
 */
export async function shutdown(k: KernelState, deadlineAt: number): Promise<StopReport> {
  const t0 = k.clock.now()
  const report: StopReport = { stopped: [], failed: [], timedOut: false, durationMs: 0 }
  for (const name of [...k.order].reverse()) {
    const rec = k.records.get(name)
    if (rec === undefined || !['started', 'setup', 'stopped', 'loaded'].includes(rec.state))
      continue
    const left = deadlineAt - k.clock.now()
    if (left <= 0) {
      report.timedOut = true
      const error = new CoreError(
        'E_TIMEOUT',
        'abandoned: the shutdown deadline passed before its turn',
        { details: { plugin: name } },
      )
      report.failed.push({ name, step: 'stop', error: fail(k, rec, 'stop', error) })
      continue
    }
    const stopError = await stopStep(k, rec, left)
    if (stopError !== undefined) {
      report.failed.push({ name, step: 'stop', error: stopError })
      continue
    }
    const unloadError = await unloadStep(k, rec, Math.max(1, deadlineAt - k.clock.now()))
    if (unloadError !== undefined) report.failed.push({ name, step: 'unload', error: unloadError })
    else report.stopped.push(name)
  }
  if (k.clock.now() > deadlineAt) report.timedOut = true
  report.durationMs = k.clock.now() - t0
  return report
}

/** Closes what the kernel owns (persisted-state timer, state engine, its own storage). @internal */
export async function closeOwned(k: KernelState, deadlineAt: number): Promise<void> {
  const left = Math.max(1, deadlineAt - k.clock.now())
  await withTimeout(k.clock, left, 'Closing the state engine and storage', async () => {
    k.persistedState?.close()
    await k.state.close()
    if (k.ownsStorage) await k.storage.close()
  }).catch((error: unknown) => k.log.error({ err: error }, 'closing the kernel components failed'))
}
