import { CoreError, metricOf } from '@core/contracts'
import { createEventBusMetrics } from '@core/event-bus'
import { createServiceRegistryMetrics } from '@core/service-registry'
import { createStateEngineMetrics } from '@core/state-engine'
import { createStorageMetrics } from '@core/storage'
import { Registry } from 'prom-client'
import { registerSecurityMetrics } from './security.js'
import type { Kernel, PluginLifecycleState } from './types.js'

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
 * Gives the kernel its one prom-client {@link Registry} (the one passed as
 * `createKernel({ metrics })`, or a new one) and adds to it the metrics of every component
 * the kernel owns, all read when scraped:
 *
 * - bus (`core_bus_*`: published, delivered, failed, dropped, subscriptions, queued events);
 * - services (`core_service_calls_total`, `core_service_call_duration_seconds`, remote retries
 *   and circuit breakers);
 * - state (`core_state_writes_total`, `core_state_expiries_total`, `core_state_keys`);
 * - storage (`core_storage_operations_total`, `core_storage_operation_duration_seconds`,
 *   `core_storage_busy_retries_total`);
 * - plugins: `core_plugins{state}` (how many plugins are in each lifecycle state) and
 *   `core_plugin_state{plugin,state}` (1 for each plugin's current state);
 * - `core_kernel_permission_denials_total{plugin}`: accesses refused with `E_FORBIDDEN`;
 * - `core_security_denials_total{kind,action}`: every refusal reported through `kernel.security`
 *   (plugins, HTTP tokens, MQTT and MindBus callers), by subject kind and action.
 *
 * Adapters add theirs (`@core/mqtt`, `@core/redis`, `@core/mindbus`); `@core/http` exposes
 * the registry at `GET /metrics`.
 * @internal
 */
export function withMetrics(
  registry: Registry | undefined,
  kernel: Omit<Kernel, 'metrics'>,
): Kernel {
  if (registry !== undefined && typeof registry?.registerMetric !== 'function') {
    throw new CoreError(
      'E_VALIDATION',
      'Invalid kernel option metrics: use a prom-client Registry (new Registry() from prom-client)',
      { details: { option: 'metrics' } },
    )
  }
  const metrics = registry ?? new Registry()
  const plugins = () => kernel.plugins.list().catch(() => [])
  createEventBusMetrics(kernel.bus).register(metrics)
  const services = createServiceRegistryMetrics(kernel.services)
  services.register(metrics)
  createStateEngineMetrics(kernel.state, {
    namespaces: async () => (await plugins()).map((p) => p.name),
  }).register(metrics)
  createStorageMetrics(kernel.storage).register(metrics)
  for (const source of [
    metricOf('core_plugins', 'Known plugins, by lifecycle state', 'gauge', async () => {
      const counts = new Map<string, number>(PLUGIN_STATES.map((s) => [s, 0]))
      for (const p of await plugins()) counts.set(p.state, (counts.get(p.state) ?? 0) + 1)
      return [...counts].map(([state, n]) => [{ state }, n] as const)
    }),
    metricOf(
      'core_plugin_state',
      'Lifecycle state of each plugin (1 for its current state)',
      'gauge',
      async () =>
        (await plugins()).flatMap((p) =>
          PLUGIN_STATES.map(
            (state) => [{ plugin: p.name, state }, p.state === state ? 1 : 0] as const,
          ),
        ),
    ),
    metricOf(
      'core_kernel_permission_denials_total',
      'Plugin accesses refused with E_FORBIDDEN, by plugin',
      'counter',
      () => Object.entries(kernel.stats().denials).map(([plugin, n]) => [{ plugin }, n] as const),
    ),
  ]) {
    if (metrics.getSingleMetric(source.name) === undefined) metrics.registerMetric(source as never)
  }
  registerSecurityMetrics(metrics, kernel.security)
  return Object.assign(kernel, { metrics })
}
