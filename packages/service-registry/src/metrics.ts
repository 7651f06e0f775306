import {
  type ComponentMetrics,
  componentMetrics,
  createHistogramFamily,
  type HistogramSeries,
  metricOf,
} from '@core/contracts'
import type { CircuitState, ServiceRegistry } from './types.js'

const CIRCUIT_STATES: readonly CircuitState[] = ['closed', 'open', 'half-open']

/** Bucket bounds of `core_service_call_duration_seconds`, in seconds. */
const BUCKETS = [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30]

/** Most `service`×`outcome` series kept; beyond, calls are still observed but not remembered. */
const MAX_SERIES = 10_000

/**
 * The Prometheus metrics of a service registry. Creating them installs a call observer (the
 * registry then times every call: one `performance.now()` at each end), removed by `close()`.
 *
 * - `core_service_calls_total{service,outcome}`: calls by service and outcome (`ok` or the
 *   CoreError code the caller got);
 * - `core_service_call_duration_seconds{service,outcome}`: histogram of their durations;
 * - `core_service_remote_retries_total{service}`: retries of idempotent remote calls;
 * - `core_service_circuit_state{target,state}`: 1 for the current state of each remote
 *   target's circuit breaker (`closed`, `open`, `half-open`), else 0;
 * - `core_service_circuit_opened_total{target}`: times a circuit opened;
 * - `core_service_circuit_rejected_total{target}`: calls refused at once by an open circuit.
 *
 * @param services - The registry to observe.
 * @returns Its metrics; `register(kernel.metrics)` adds them, `close()` removes the observer.
 * @see Prometheus text exposition format 0.0.4
 * @example
 * ```ts
 * const metrics = createServiceRegistryMetrics(services)
 * metrics.register(registry)
 * ```
 * @public
 */
export function createServiceRegistryMetrics(
  services: ServiceRegistry,
): ComponentMetrics & { close(): void } {
  const calls = createHistogramFamily({
    name: 'core_service_call_duration_seconds',
    help: 'Service call duration, by service and outcome (ok or the CoreError code)',
    counterName: 'core_service_calls_total',
    counterHelp: 'Service calls, by service and outcome (ok or the CoreError code)',
    buckets: BUCKETS,
  })
  const series = new Map<string, HistogramSeries>()
  // An observer, not a middleware: the registry keeps its direct call path.
  const close = services.observe(({ name, outcome, durationMs }) => {
    const key = `${name} ${outcome}`
    let s = series.get(key)
    if (s === undefined) {
      s = calls.series({ service: name, outcome })
      if (series.size < MAX_SERIES) series.set(key, s)
    }
    s.observe(durationMs / 1000)
  })
  const circuits = () => services.stats().remote.circuits
  const metrics = componentMetrics([
    ...calls.sources,
    metricOf(
      'core_service_remote_retries_total',
      'Retries of remote calls to idempotent services, by service',
      'counter',
      () => Object.entries(services.stats().remote.retries).map(([service, n]) => [{ service }, n]),
    ),
    metricOf(
      'core_service_circuit_state',
      'Circuit breaker state of each remote target (1 for the current state)',
      'gauge',
      () =>
        circuits().flatMap((c) =>
          CIRCUIT_STATES.map((state) => [{ target: c.target, state }, c.state === state ? 1 : 0]),
        ),
    ),
    metricOf(
      'core_service_circuit_opened_total',
      'Times the circuit breaker of a remote target opened',
      'counter',
      () => circuits().map((c) => [{ target: c.target }, c.opened]),
    ),
    metricOf(
      'core_service_circuit_rejected_total',
      'Calls refused at once because the circuit of their remote target was open',
      'counter',
      () => circuits().map((c) => [{ target: c.target }, c.rejected]),
    ),
  ])
  return { register: metrics.register, close }
}
