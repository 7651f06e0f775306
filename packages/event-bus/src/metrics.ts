import { type ComponentMetrics, componentMetrics, metricOf } from '@core/contracts'
import type { EventBus } from './types.js'

/**
 * The Prometheus metrics of an event bus, read from {@link EventBus.stats} when scraped (the
 * publish path only keeps plain counters):
 *
 * - `core_bus_events_published_total`: events accepted by the bus;
 * - `core_bus_events_delivered_total`: handler runs that settled without throwing;
 * - `core_bus_events_failed_total`: handler runs that threw or rejected;
 * - `core_bus_events_dropped_total`: events dropped because a subscription queue was full;
 * - `core_bus_subscriptions`: live subscriptions;
 * - `core_bus_queued_events`: events waiting in subscription queues (the queue depth).
 *
 * @param bus - The bus to read.
 * @returns Its {@link ComponentMetrics}; `register(kernel.metrics)` adds them.
 * @see Prometheus text exposition format 0.0.4
 * @example
 * ```ts
 * createEventBusMetrics(bus).register(registry)
 * ```
 * @public
 */
export function createEventBusMetrics(bus: EventBus): ComponentMetrics {
  const counter = (
    name: string,
    help: string,
    read: (s: ReturnType<EventBus['stats']>) => number,
  ) => metricOf(name, help, 'counter', () => [[{}, read(bus.stats())]])
  return componentMetrics([
    counter('core_bus_events_published_total', 'Events accepted by the bus', (s) => s.published),
    counter(
      'core_bus_events_delivered_total',
      'Handler runs that settled without throwing',
      (s) => s.delivered,
    ),
    counter('core_bus_events_failed_total', 'Handler runs that threw or rejected', (s) => s.failed),
    counter(
      'core_bus_events_dropped_total',
      'Events dropped because a subscription queue was full',
      (s) => s.dropped,
    ),
    metricOf('core_bus_subscriptions', 'Live bus subscriptions', 'gauge', () => [
      [{}, bus.stats().subscriptions],
    ]),
    metricOf('core_bus_queued_events', 'Events waiting in subscription queues', 'gauge', () => [
      [{}, bus.stats().queued],
    ]),
  ])
}
