import {
  type ComponentMetrics,
  componentMetrics,
  createHistogramFamily,
  type HistogramFamily,
  type HistogramSeries,
  metricOf,
} from '@core/contracts'
import type { StorageAdapter } from './adapter.js'
import type { Storage } from './types.js'

/** Bucket bounds of `core_storage_operation_duration_seconds`, in seconds. */
const BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 1]

/**
 * Times the storage operations of one `createStorage` (its transactions included): a clock
 * reading at each end and a bucket search, on plain numbers.
 * @internal
 */
export class StorageRecorder {
  readonly family: HistogramFamily = createHistogramFamily({
    name: 'core_storage_operation_duration_seconds',
    help: 'Storage operations, by operation and outcome (ok or the CoreError code), in seconds',
    counterName: 'core_storage_operations_total',
    counterHelp: 'Storage operations, by operation and outcome (ok or the CoreError code)',
    buckets: BUCKETS,
  })
  private readonly series = new Map<string, HistogramSeries>()

  constructor(readonly adapter: StorageAdapter) {}

  /** Records one operation `what` that started at `startedAt` (`performance.now()`). */
  record(what: string, outcome: string, startedAt: number): void {
    const key = `${what} ${outcome}`
    let s = this.series.get(key)
    if (s === undefined) {
      // `what` is a verb ("get") or a phrase for messages ("read the schema version of").
      const op = what.includes(' ') ? 'schema_version' : what
      s = this.family.series({ op, outcome })
      this.series.set(key, s)
    }
    s.observe((performance.now() - startedAt) / 1000)
  }
}

const recorders = new WeakMap<object, StorageRecorder>()

/** Remembers the recorder of a storage, for {@link createStorageMetrics}. @internal */
export function trackStorage(storage: Storage, recorder: StorageRecorder): void {
  recorders.set(storage, recorder)
}

/**
 * The Prometheus metrics of a storage made by `createStorage`, read when scraped:
 *
 * - `core_storage_operations_total{op,outcome}`: operations (`get`, `set`, `delete`, `has`,
 *   `count`, `list`, `query`, `batch`, `schema_version`) by outcome (`ok` or the CoreError
 *   code);
 * - `core_storage_operation_duration_seconds{op,outcome}`: histogram of their durations;
 * - `core_storage_busy_retries_total{adapter}`: attempts the adapter repeated because the
 *   database was busy (SQLite `SQLITE_BUSY`); 0 for adapters that never retry.
 *
 * @param storage - A storage from `createStorage` (any other storage has no metrics).
 * @returns Its {@link ComponentMetrics}; `register(kernel.metrics)` adds them.
 * @see Prometheus text exposition format 0.0.4
 * @example
 * ```ts
 * createStorageMetrics(storage).register(registry)
 * ```
 * @public
 */
export function createStorageMetrics(storage: Storage): ComponentMetrics {
  const recorder = recorders.get(storage)
  if (recorder === undefined) return componentMetrics([])
  return componentMetrics([
    ...recorder.family.sources,
    metricOf(
      'core_storage_busy_retries_total',
      'Storage attempts repeated because the database was busy (SQLITE_BUSY), by adapter',
      'counter',
      () => [[{ adapter: recorder.adapter.name }, recorder.adapter.busyRetries?.() ?? 0]],
    ),
  ])
}
