import { createHistogramFamily, type HistogramSeries } from '@core/contracts'
import type { Kernel } from '@core/kernel'
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client'

/**
 * The metrics the HTTP adapter records itself, in their own prom-client Registry (never the
 * global one); `GET /metrics` serves them merged with the kernel's (`kernel.metrics`).
 * @internal
 */
export interface HttpMetrics {
  readonly registry: Registry
  /** The recorder of finished requests of one route (pattern) and method: `(status, seconds)`. */
  route(method: string, route: string): (status: number, seconds: number) => void
  /** Counts an SSE client connecting (+1) or leaving (-1). */
  sse(delta: 1 | -1): void
  /** The exposition of `GET /metrics`: the kernel's registry and this adapter's, merged. */
  scrape(): Promise<{ contentType: string; text: string }>
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

/** Most method×route recorders kept (unmatched paths share the route `unmatched`). */
const MAX_ROUTES = 10_000

/**
 * Creates the adapter's own metrics: `core_http_requests_total` and
 * `core_http_request_duration_seconds` by method, route pattern and status,
 * `core_http_sse_clients`, and (unless `processMetrics: false`) prom-client's default process
 * and Node.js metrics. Bus, services, state, storage and plugin metrics are the kernel's.
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
  const http = createHistogramFamily({
    name: 'core_http_request_duration_seconds',
    help: 'Time to answer an HTTP request, by method, route pattern and status',
    counterName: 'core_http_requests_total',
    counterHelp: 'HTTP requests answered, by method, route pattern and status',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  })
  for (const source of http.sources) registry.registerMetric(source as never)
  const sseClients = new Gauge({
    name: 'core_http_sse_clients',
    help: 'Open Server-Sent Events streams',
    registers: [registry],
  })

  const recorders = new Map<string, (status: number, seconds: number) => void>()
  return {
    registry,
    route(method, route) {
      const key = `${method} ${route}`
      let recorder = recorders.get(key)
      if (recorder !== undefined) return recorder
      const byStatus = new Map<number, HistogramSeries>()
      recorder = (status, seconds) => {
        let series = byStatus.get(status)
        if (series === undefined) {
          series = http.series({ method, route, status: String(status) })
          byStatus.set(status, series)
        }
        series.observe(seconds)
      }
      if (recorders.size < MAX_ROUTES) recorders.set(key, recorder)
      return recorder
    },
    sse(delta) {
      sseClients.inc(delta)
    },
    async scrape() {
      const merged = Registry.merge([kernel.metrics, registry])
      return { contentType: registry.contentType, text: await merged.metrics() }
    },
  }
}
