import { CoreError } from '@core/contracts'
import type { ResourceCounts } from './context.js'
import type { KernelState } from './kernel-state.js'
import { withTimeout } from './lifecycle.js'
import { CORE_API_VERSION } from './manifest.js'
import type { PluginRecord } from './plugin-record.js'
import type {
  ComponentHealth,
  HealthCheck,
  HealthReport,
  HealthStatus,
  KernelStats,
  PluginHealth,
} from './types.js'

/** Component names `health()` always reports; a health check may not take them. */
const BUILT_IN_COMPONENTS: ReadonlySet<string> = new Set([
  'kernel',
  'bus',
  'services',
  'state',
  'storage',
  'plugins',
])

/** Deadline of the storage probe and of each added health check, in ms. */
const CHECK_TIMEOUT_MS = 1_000

/**
 * `kernel.health()`: every plugin (troubled: `unhealthy` when required, else `degraded`), the
 * built-in components, fault containment and the added checks; the worst status wins.
 * @internal
 */
export async function health(k: KernelState): Promise<HealthReport> {
  const plugins: Record<string, PluginHealth> = {}
  for (const name of k.order) {
    const rec = k.records.get(name) as PluginRecord
    const isRequired = k.required.has(name)
    const troubled = rec.state === 'failed' || (rec.state !== 'started' && rec.reason !== undefined)
    const status: HealthStatus = troubled ? (isRequired ? 'unhealthy' : 'degraded') : 'healthy'
    const h: PluginHealth = { status, state: rec.state, required: isRequired }
    if (rec.error !== undefined) h.error = rec.error.message
    if (rec.reason !== undefined && rec.state !== 'started') h.reason = rec.reason
    plugins[name] = h
  }
  const pluginStatus = worstOf(Object.values(plugins).map((p) => p.status))
  const components: Record<string, ComponentHealth> = {
    kernel: {
      status: k.phase === 'running' ? 'healthy' : 'unhealthy',
      details: { phase: k.phase, apiVersion: CORE_API_VERSION },
    },
    bus: { status: 'healthy', details: { ...k.bus.stats() } },
    services: { status: 'healthy', details: { count: k.services.list().length } },
    state: { status: 'healthy' },
    storage: await storageHealth(k),
    ...(k.containment === undefined ? {} : { faults: k.containment.health() }),
    plugins: {
      status: pluginStatus,
      details: {
        total: k.order.length,
        started: Object.values(plugins).filter((p) => p.state === 'started').length,
      },
    },
  }
  for (const [name, check] of k.healthChecks) {
    components[name] = await withTimeout(
      k.clock,
      CHECK_TIMEOUT_MS,
      `Health check "${name}"`,
      async () => check(),
    ).catch(unhealthy)
  }
  return {
    status: worstOf(Object.values(components).map((c) => c.status)),
    components,
    plugins,
  }
}

/** `kernel.addHealthCheck(name, check)`; returns its undo. @internal */
export function addHealthCheck(k: KernelState, name: string, check: HealthCheck): () => void {
  if (
    typeof name !== 'string' ||
    !/^[a-z][a-z0-9-]{0,63}$/.test(name) ||
    BUILT_IN_COMPONENTS.has(name)
  ) {
    throw new CoreError(
      'E_VALIDATION',
      `Invalid health check name ${JSON.stringify(name)}: use a lower-case word (a-z, 0-9, "-") other than ${[...BUILT_IN_COMPONENTS].join(', ')}`,
      { details: { name } },
    )
  }
  if (k.healthChecks.has(name)) {
    throw new CoreError('E_CONFLICT', `A health check named "${name}" is already registered`, {
      details: { name },
    })
  }
  k.healthChecks.set(name, check)
  return () => {
    if (k.healthChecks.get(name) === check) k.healthChecks.delete(name)
  }
}

/** `kernel.stats()`: denials per plugin and the resources plugins hold now. @internal */
export function stats(k: KernelState): KernelStats {
  const denials: Record<string, number> = {}
  const resources: ResourceCounts = { subscriptions: 0, services: 0, watches: 0, timers: 0 }
  for (const rec of k.records.values()) {
    if (rec.denials > 0) denials[rec.name] = rec.denials
    const c = rec.handle?.counts()
    if (c)
      for (const key of Object.keys(resources) as Array<keyof ResourceCounts>)
        resources[key] += c[key]
  }
  return { denials, resources }
}

function storageHealth(k: KernelState): Promise<ComponentHealth> {
  const adapter = k.storage.adapterName
  return withTimeout(k.clock, CHECK_TIMEOUT_MS, 'Storage health probe', () =>
    k.storage.has('core', 'health'),
  ).then(
    (): ComponentHealth => ({ status: 'healthy', details: { adapter } }),
    (error: unknown): ComponentHealth => ({
      status: 'unhealthy',
      details: { adapter, error: error instanceof Error ? error.message : String(error) },
    }),
  )
}

function unhealthy(error: unknown): ComponentHealth {
  return {
    status: 'unhealthy',
    details: { error: error instanceof Error ? error.message : String(error) },
  }
}

function worstOf(statuses: readonly HealthStatus[]): HealthStatus {
  if (statuses.includes('unhealthy')) return 'unhealthy'
  return statuses.includes('degraded') ? 'degraded' : 'healthy'
}
