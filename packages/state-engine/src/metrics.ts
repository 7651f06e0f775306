import {
  type ComponentMetrics,
  componentMetrics,
  metricOf,
  type StateChange,
  type StateChangeReason,
} from '@core/contracts'
import type { StateEngine, StateEngineStats } from './types.js'

/** Most namespaces counted; changes of further ones are counted under `namespace="_other"`. */
const MAX_NAMESPACES = 1_000

/**
 * The state engine's change counters, by namespace: plain numbers on the write path.
 * @internal
 */
export class StateCounters {
  private readonly byNamespace = new Map<string, Record<StateChangeReason, number>>()

  count(changes: readonly StateChange[]): void {
    for (const change of changes) {
      let row = this.byNamespace.get(change.namespace)
      if (row === undefined) {
        const ns = this.byNamespace.size < MAX_NAMESPACES ? change.namespace : '_other'
        row = this.byNamespace.get(ns) ?? { set: 0, delete: 0, expired: 0 }
        this.byNamespace.set(ns, row)
      }
      row[change.reason]++
    }
  }

  snapshot(): StateEngineStats {
    const changes: StateEngineStats['changes'] = {}
    for (const [ns, row] of this.byNamespace) changes[ns] = { ...row }
    return { changes }
  }
}

/** Options of {@link createStateEngineMetrics}. @public */
export interface CreateStateEngineMetricsOptions {
  /**
   * Namespaces whose live keys `core_state_keys` counts, besides those written through this
   * engine (the kernel passes its plugins' names).
   */
  namespaces?: () => Iterable<string> | Promise<Iterable<string>>
}

/**
 * The Prometheus metrics of a state engine, read when scraped:
 *
 * - `core_state_writes_total{namespace,op}`: committed writes made through this engine, `op`
 *   `set` or `delete`;
 * - `core_state_expiries_total{namespace}`: keys this engine expired (TTL);
 * - `core_state_keys{namespace}`: live keys now (read with `list` at scrape time) of the
 *   namespaces written through this engine and those of `options.namespaces`.
 *
 * @param state - The engine to read.
 * @param options - `namespaces`: more namespaces to count keys of.
 * @returns Its {@link ComponentMetrics}; `register(kernel.metrics)` adds them.
 * @see Prometheus text exposition format 0.0.4
 * @example
 * ```ts
 * createStateEngineMetrics(state).register(registry)
 * ```
 * @public
 */
export function createStateEngineMetrics(
  state: StateEngine,
  options: CreateStateEngineMetricsOptions = {},
): ComponentMetrics {
  const rows = () => Object.entries(state.stats().changes)
  return componentMetrics([
    metricOf(
      'core_state_writes_total',
      'State writes committed through the engine, by namespace and op (set or delete)',
      'counter',
      () =>
        rows().flatMap(([namespace, r]) => [
          [{ namespace, op: 'set' }, r.set],
          [{ namespace, op: 'delete' }, r.delete],
        ]),
    ),
    metricOf(
      'core_state_expiries_total',
      'State keys expired (TTL) by the engine, by namespace',
      'counter',
      () => rows().map(([namespace, r]) => [{ namespace }, r.expired]),
    ),
    metricOf('core_state_keys', 'Live state keys, by namespace', 'gauge', async () => {
      const names = new Set(rows().map(([namespace]) => namespace))
      names.delete('_other')
      for (const n of (await options.namespaces?.()) ?? []) names.add(n)
      const out: Array<[Record<string, string>, number]> = []
      for (const namespace of names) {
        const keys = await state.list(namespace).catch(() => undefined)
        if (keys !== undefined) out.push([{ namespace }, keys.length])
      }
      return out
    }),
  ])
}
