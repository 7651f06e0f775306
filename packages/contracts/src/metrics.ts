/**
 * One metric in the shape prom-client's `Registry.registerMetric` takes and its `metrics()`
 * renders in the Prometheus text exposition format: a name, a help text, a type and a `get()`
 * that answers the current values. Packages below `@core/kernel` build these without depending
 * on prom-client; the kernel registers them on its one registry.
 * @see Prometheus text exposition format 0.0.4
 * @public
 */
export interface MetricSource {
  readonly name: string
  readonly help: string
  readonly type: 'counter' | 'gauge' | 'histogram'
  /** The values now, in prom-client's `MetricObjectWithValues` shape. */
  get(): Promise<MetricSnapshot>
  /** Sets every value back to zero (prom-client's `registry.resetMetrics()`). */
  reset(): void
}

/** What {@link MetricSource.get} answers. @public */
export interface MetricSnapshot {
  name: string
  help: string
  type: 'counter' | 'gauge' | 'histogram'
  aggregator: 'sum'
  values: MetricValue[]
}

/** One sample of a {@link MetricSnapshot}; `metricName` set for `_bucket`/`_sum`/`_count`. @public */
export interface MetricValue {
  value: number
  labels: Record<string, string | number>
  metricName?: string
}

/** One label set of a {@link HistogramFamily}. @public */
export interface HistogramSeries {
  /** Records one observation (seconds, for `_seconds` histograms). */
  observe(value: number): void
  /** Observations so far. */
  readonly count: number
  /** Sum of the observations so far. */
  readonly sum: number
}

/**
 * A histogram and the counter of its observations, sharing one set of series: observing is a
 * bucket search and three additions. prom-client's own `Histogram` hashes the labels on every
 * observation (about 1 µs here), which a per-call or per-request metric cannot afford; this one
 * hands each label set out once as a {@link HistogramSeries} to keep.
 * @public
 */
export interface HistogramFamily {
  /** A new series with these labels (keep it: each call adds one). */
  series(labels: Readonly<Record<string, string>>): HistogramSeries
  /** The histogram and its counter (`counterName`), to register on a prom-client Registry. */
  readonly sources: readonly [MetricSource, MetricSource]
}

/** Options of {@link createHistogramFamily}. @public */
export interface CreateHistogramFamilyOptions {
  /** Histogram name, ending in the unit: `core_service_call_duration_seconds`. */
  name: string
  help: string
  /** Name of the counter of observations, ending in `_total`. */
  counterName: string
  counterHelp: string
  /** Upper bounds of the buckets, ascending; `+Inf` is added. */
  buckets: readonly number[]
}

class Series implements HistogramSeries {
  readonly counts: number[]
  sum = 0
  count = 0
  constructor(
    readonly labels: Readonly<Record<string, string>>,
    private readonly bounds: readonly number[],
  ) {
    this.counts = new Array<number>(bounds.length + 1).fill(0)
  }

  observe(value: number): void {
    const bounds = this.bounds
    let i = 0
    while (i < bounds.length && value > (bounds[i] as number)) i++
    ;(this.counts[i] as number)++
    this.sum += value
    this.count++
  }
}

/**
 * Creates a {@link HistogramFamily}: a Prometheus histogram (`_bucket`, `_sum`, `_count`) and a
 * counter of the same observations by the same labels.
 * @param options - Names, help texts and bucket bounds.
 * @returns The family; register `family.sources` on a prom-client Registry.
 * @see Prometheus text exposition format 0.0.4 (histogram)
 * @example
 * ```ts
 * const calls = createHistogramFamily({ name: 'x_seconds', help: 'X', counterName: 'x_total',
 *   counterHelp: 'X', buckets: [0.001, 0.01, 0.1] })
 * calls.series({ outcome: 'ok' }).observe(0.002)
 * for (const source of calls.sources) registry.registerMetric(source as never)
 * ```
 * @public
 */
export function createHistogramFamily(options: CreateHistogramFamilyOptions): HistogramFamily {
  const { name, help, counterName, counterHelp, buckets } = options
  const all: Series[] = []
  const reset = (): void => {
    for (const s of all) {
      s.counts.fill(0)
      s.sum = 0
      s.count = 0
    }
  }
  const histogram: MetricSource = {
    name,
    help,
    type: 'histogram',
    reset,
    get: async () => ({
      name,
      help,
      type: 'histogram',
      aggregator: 'sum',
      values: all.flatMap((s) => {
        let cumulative = 0
        const out: MetricValue[] = s.counts.map((n, i) => {
          cumulative += n
          const le = i < buckets.length ? String(buckets[i]) : '+Inf'
          return { labels: { le, ...s.labels }, value: cumulative, metricName: `${name}_bucket` }
        })
        out.push({ labels: { ...s.labels }, value: s.sum, metricName: `${name}_sum` })
        out.push({ labels: { ...s.labels }, value: s.count, metricName: `${name}_count` })
        return out
      }),
    }),
  }
  const counter: MetricSource = {
    name: counterName,
    help: counterHelp,
    type: 'counter',
    reset,
    get: async () => ({
      name: counterName,
      help: counterHelp,
      type: 'counter',
      aggregator: 'sum',
      values: all.map((s) => ({ labels: { ...s.labels }, value: s.count })),
    }),
  }
  return {
    series(labels) {
      const series = new Series({ ...labels }, buckets)
      all.push(series)
      return series
    },
    sources: [histogram, counter],
  }
}

/**
 * A counter or gauge whose values are read when scraped (`read()`), so that the code being
 * measured only keeps plain numbers: a `_total` counter over a monotonic figure, or a gauge.
 * @param name - Prometheus name (`core_` prefix; counters end in `_total`).
 * @param help - One line.
 * @param type - `counter` or `gauge`.
 * @param read - The samples now: `[labels, value]` pairs.
 * @returns A {@link MetricSource} to register on a prom-client Registry.
 * @example
 * ```ts
 * registry.registerMetric(metricOf('core_x_total', 'X', 'counter', () => [[{}, x]]) as never)
 * ```
 * @public
 */
export function metricOf(
  name: string,
  help: string,
  type: 'counter' | 'gauge',
  read: () =>
    | Iterable<readonly [Record<string, string>, number]>
    | Promise<Iterable<readonly [Record<string, string>, number]>>,
): MetricSource {
  return {
    name,
    help,
    type,
    reset: () => undefined,
    get: async () => {
      const values: MetricValue[] = []
      for (const [labels, value] of await read()) values.push({ labels: { ...labels }, value })
      return { name, help, type, aggregator: 'sum', values }
    },
  }
}

/**
 * The part of a prom-client `Registry` the packages below the kernel use, so that they need no
 * prom-client dependency: a prom-client `Registry` is one.
 * @public
 */
export interface MetricRegistry {
  registerMetric(metric: never): void
  getSingleMetric(name: string): unknown
}

/**
 * The metrics of one component, created unregistered (as `@core/redis`'s): add them to a
 * registry (the kernel's `kernel.metrics`) with {@link ComponentMetrics.register}.
 * @public
 */
export interface ComponentMetrics {
  /**
   * Adds every metric to `registry`. A name the registry already holds is left as it is, so
   * calling it again with the same registry does nothing.
   */
  register(registry: MetricRegistry): void
}

/**
 * Wraps metric sources as {@link ComponentMetrics}.
 * @param sources - The metrics, read at scrape time.
 * @returns Their {@link ComponentMetrics}.
 * @public
 */
export function componentMetrics(sources: readonly MetricSource[]): ComponentMetrics {
  return {
    register(registry) {
      for (const source of sources) {
        if (registry.getSingleMetric(source.name) === undefined) {
          registry.registerMetric(source as never)
        }
      }
    },
  }
}
