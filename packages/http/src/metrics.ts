import type { Kernel, PluginLifecycleState } from '@core/kernel'
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client'

/**
 * The metrics of one HTTP adapter, in their own prom-client Registry (never the global one).
 * @internal
 */
export interface HttpMetrics {
  readonly registry: Registry
  /** The recorder of finished requests of one route (pattern) and method: `(status, seconds)`. */
  route(method: string, route: string): (status: number, seconds: number) => void
  /** Counts an SSE client connecting (+1) or leaving (-1). */
  sse(delta: 1 | -1): void
  /** Remembers a state namespace to count keys of at scrape time. */
  stateNamespace(namespace: string): void
  /** Removes the service-registry middleware. */
  close(): void
}

/** Options of {@link createHttpMetrics}. @internal */
export interface CreateHttpMetricsOptions {
  /** Also collect prom-client's default process and Node.js metrics. @defaultValue true */
  processMetrics?: boolean
}

const NOT_COUNTERS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
]

const PLUGIN_STATES: readonly PluginLifecycleState[] = [
  'discovered',
  'loaded',
  'setup',
  'started',
  'stopped',
  'failed',
  'unloaded',
]

/**
 * Creates the adapter's metrics and installs a service-registry middleware that times every
 * call (made over HTTP or by plugins). Bus, plugin, state and denial figures are read from the
 * kernel when scraped.
 * @internal
 */
export function createHttpMetrics(
  kernel: Kernel,
  options: CreateHttpMetricsOptions = {},
): HttpMetrics {
  const registry = new Registry()
  if (options.processMetrics !== false) {
    collectDefaultMetrics({ register: registry })
    // Gauges named *_total break the exposition format's naming rule (promtool check metrics).
    for (const name of NOT_COUNTERS) registry.removeSingleMetric(name)
  }
  const registers = [registry]

  const http = new HistogramFamily(
    'core_http_request_duration_seconds',
    'Time to answer an HTTP request, by method, route pattern and status',
    'core_http_requests_total',
    'HTTP requests answered, by method, route pattern and status',
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  )
  http.register(registry)
  const sseClients = new Gauge({
    name: 'core_http_sse_clients',
    help: 'Open Server-Sent Events streams',
    registers,
  })

  const busCounter = (name: string, help: string, read: (s: BusStats) => number): void => {
    new Counter({
      name,
      help,
      registers,
      collect() {
        this.reset()
        this.inc(read(kernel.bus.stats()))
      },
    })
  }
  busCounter('core_bus_events_published_total', 'Events accepted by the bus', (s) => s.published)
  busCounter(
    'core_bus_events_delivered_total',
    'Handler runs that settled without throwing',
    (s) => s.delivered,
  )
  busCounter('core_bus_events_failed_total', 'Handler runs that threw or rejected', (s) => s.failed)
  busCounter(
    'core_bus_events_dropped_total',
    'Events dropped because a subscription queue was full',
    (s) => s.dropped,
  )
  new Gauge({
    name: 'core_bus_subscriptions',
    help: 'Live bus subscriptions',
    registers,
    collect() {
      this.set(kernel.bus.stats().subscriptions)
    },
  })
  new Gauge({
    name: 'core_bus_queued_events',
    help: 'Events waiting in subscription queues',
    registers,
    collect() {
      this.set(kernel.bus.stats().queued)
    },
  })

  const calls = new HistogramFamily(
    'core_service_call_duration_seconds',
    'Service call duration, by service and outcome (ok or the CoreError code)',
    'core_service_calls_total',
    'Service calls, by service and outcome (ok or the CoreError code)',
    [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30],
  )
  calls.register(registry)

  const namespaces = new Set<string>()
  new Gauge({
    name: 'core_plugins',
    help: 'Known plugins, by lifecycle state',
    labelNames: ['state'] as const,
    registers,
    async collect() {
      this.reset()
      for (const state of PLUGIN_STATES) this.set({ state }, 0)
      const plugins = await kernel.plugins.list().catch(() => [])
      for (const plugin of plugins) this.inc({ state: plugin.state })
    },
  })
  new Gauge({
    name: 'core_state_keys',
    help: 'Live state keys, by namespace (namespaces of known plugins and those written over HTTP)',
    labelNames: ['namespace'] as const,
    registers,
    async collect() {
      this.reset()
      const names = new Set(namespaces)
      for (const plugin of await kernel.plugins.list().catch(() => [])) names.add(plugin.name)
      for (const namespace of names) {
        const keys = await kernel.state.list(namespace).catch(() => undefined)
        if (keys !== undefined) this.set({ namespace }, keys.length)
      }
    },
  })
  new Counter({
    name: 'core_kernel_permission_denials_total',
    help: 'Plugin accesses refused with E_FORBIDDEN, by plugin',
    labelNames: ['plugin'] as const,
    registers,
    collect() {
      this.reset()
      for (const [plugin, n] of Object.entries(kernel.stats().denials)) this.inc({ plugin }, n)
    },
  })

  const recorders = new Map<string, (status: number, seconds: number) => void>()
  const outcomes = new Map<string, Series>()
  // An observer, not a middleware: the registry keeps its direct call path.
  const undo = kernel.services.observe(({ name, outcome, durationMs }) => {
    const key = `${name} ${outcome}`
    let series = outcomes.get(key)
    if (series === undefined) {
      series = calls.series({ service: name, outcome })
      if (outcomes.size < 10_000) outcomes.set(key, series)
    }
    series.observe(durationMs / 1000)
  })

  return {
    registry,
    route(method, route) {
      const key = `${method} ${route}`
      let recorder = recorders.get(key)
      if (recorder !== undefined) return recorder
      const byStatus = new Map<number, Series>()
      recorder = (status, seconds) => {
        let series = byStatus.get(status)
        if (series === undefined) {
          series = http.series({ method, route, status: String(status) })
          byStatus.set(status, series)
        }
        series.observe(seconds)
      }
      if (recorders.size < 10_000) recorders.set(key, recorder)
      return recorder
    },
    sse(delta) {
      sseClients.inc(delta)
    },
    stateNamespace(namespace) {
      if (namespaces.size < 1_000) namespaces.add(namespace)
    },
    close() {
      undo()
    },
  }
}

/** One label set of a {@link HistogramFamily}: per-bucket counts, sum and count. */
class Series {
  readonly counts: number[]
  sum = 0
  count = 0
  constructor(
    readonly labels: Record<string, string>,
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
 * A histogram and the counter of its observations, sharing one set of series: observing is a
 * bucket search and three additions (prom-client's own Histogram validates and hashes the
 * labels on every observation, about 1 µs, which a per-request metric cannot afford). Both
 * are registered in a prom-client Registry as metrics whose `get()` gives the values in
 * prom-client's format, so the exposition is prom-client's.
 */
class HistogramFamily {
  private readonly all: Series[] = []
  constructor(
    private readonly name: string,
    private readonly help: string,
    private readonly counterName: string,
    private readonly counterHelp: string,
    private readonly bounds: readonly number[],
  ) {}

  series(labels: Record<string, string>): Series {
    const series = new Series(labels, this.bounds)
    this.all.push(series)
    return series
  }

  register(registry: Registry): void {
    const histogram = {
      name: this.name,
      help: this.help,
      type: 'histogram',
      get: async () => ({
        name: this.name,
        help: this.help,
        type: 'histogram',
        aggregator: 'sum',
        values: this.all.flatMap((s) => {
          let cumulative = 0
          const out = s.counts.map((n, i) => {
            cumulative += n
            const le = i < this.bounds.length ? String(this.bounds[i]) : '+Inf'
            return {
              labels: { le, ...s.labels },
              value: cumulative,
              metricName: `${this.name}_bucket`,
            }
          })
          out.push({
            labels: { ...s.labels },
            value: s.sum,
            metricName: `${this.name}_sum`,
          } as never)
          out.push({
            labels: { ...s.labels },
            value: s.count,
            metricName: `${this.name}_count`,
          } as never)
          return out
        }),
      }),
    }
    const counter = {
      name: this.counterName,
      help: this.counterHelp,
      type: 'counter',
      get: async () => ({
        name: this.counterName,
        help: this.counterHelp,
        type: 'counter',
        aggregator: 'sum',
        values: this.all.map((s) => ({ labels: { ...s.labels }, value: s.count })),
      }),
    }
    const reset = (): void => {
      for (const series of this.all) {
        series.counts.fill(0)
        series.sum = 0
        series.count = 0
      }
    }
    registry.registerMetric({ ...counter, reset } as never)
    registry.registerMetric({ ...histogram, reset } as never)
  }
}

type BusStats = ReturnType<Kernel['bus']['stats']>
