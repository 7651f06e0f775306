import { Counter, Gauge, Histogram, type Registry } from 'prom-client'

/**
 * The Prometheus metrics of this package's Redis connections, created unregistered: add them to
 * a registry (the hub's `GET /metrics` one) with {@link RedisMetrics.register}.
 *
 * - `core_redis_command_duration_seconds{op}`: histogram of round trips (state `get`, `set`,
 *   `delete`, `expire`, `list`, cache `get`, …), seconds. State `get`s asked for in the same
 *   tick share one round trip (a pipeline), timed once.
 * - `core_redis_command_errors_total{op,code}`: failed round trips by `CoreError` code.
 * - `core_redis_stream_lag_seconds`: age of the last change read from the stream when it was
 *   read (write on one hub → delivery to this one), seconds.
 * - `core_redis_stream_gaps_total`: times the stream had been trimmed past this hub's position
 *   (the keys were re-read instead).
 * - `core_redis_connected`: 1 while the connection is ready, else 0.
 * @public
 */
export interface RedisMetrics {
  /** Adds every metric to `registry`. Calling it again with the same registry does nothing. */
  register(registry: Registry): void
}

/** @internal */
export interface RedisMetricsRecorder extends RedisMetrics {
  /** Starts timing a round trip; call the result with the error code, if it failed. */
  time(op: string): (code?: string) => void
  /** Counts a failed operation that is not timed on its own (a read sent in a pipeline). */
  failed(op: string, code: string): void
  lag(seconds: number): void
  gap(): void
  connected(up: boolean): void
}

const BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1]

/** @internal */
export function createRedisMetrics(): RedisMetricsRecorder {
  const duration = new Histogram({
    name: 'core_redis_command_duration_seconds',
    help: 'Redis round trips of @core/redis, by operation, in seconds',
    labelNames: ['op'],
    buckets: BUCKETS,
    registers: [],
  })
  const errors = new Counter({
    name: 'core_redis_command_errors_total',
    help: 'Failed Redis round trips of @core/redis, by operation and error code',
    labelNames: ['op', 'code'],
    registers: [],
  })
  const lag = new Gauge({
    name: 'core_redis_stream_lag_seconds',
    help: 'Age of the last state change read from the Redis stream when it was read, in seconds',
    registers: [],
  })
  const gaps = new Counter({
    name: 'core_redis_stream_gaps_total',
    help: 'Times the state change stream was trimmed past this hub and the keys were re-read',
    registers: [],
  })
  const up = new Gauge({
    name: 'core_redis_connected',
    help: '1 while the Redis connection of the state backend is ready, else 0',
    registers: [],
  })
  const registries = new Set<Registry>()
  return {
    register(registry) {
      if (registries.has(registry)) return
      registries.add(registry)
      for (const metric of [duration, errors, lag, gaps, up]) registry.registerMetric(metric)
    },
    time(op) {
      const end = duration.startTimer({ op })
      return (code) => {
        end()
        if (code !== undefined) errors.inc({ op, code })
      }
    },
    failed: (op, code) => errors.inc({ op, code }),
    lag: (seconds) => lag.set(seconds),
    gap: () => gaps.inc(),
    connected: (ready) => up.set(ready ? 1 : 0),
  }
}
