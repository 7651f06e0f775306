import { CoreError } from '@core/contracts'
import {
  createFakeClock,
  expectCoreError,
  HAVE_PROMTOOL,
  IN_CI,
  promtoolCheckMetrics,
} from '@core/contracts/testing'
import { Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import type { InlinePlugin, Kernel, PluginContext } from '../src/index.js'
import { testKernel } from './helpers.js'

if (!HAVE_PROMTOOL && !IN_CI) {
  console.warn(
    '[@core/kernel] promtool not found: the `promtool check metrics` test is skipped. Install it with `apt-get install -y prometheus`.',
  )
}

/** A plugin that uses every component once in setup. */
const busy: InlinePlugin = {
  manifest: { name: 'lights', coreApi: '^1.0.0' },
  plugin: {
    async setup(ctx: PluginContext) {
      ctx.services.register('lights.set', (p: { on: boolean }) => p, {
        params: { type: 'object', properties: { on: { type: 'boolean' } }, required: ['on'] },
      })
      ctx.services.register(
        'lights.fail',
        () => {
          throw new CoreError('E_CONFLICT', 'The light is being changed by someone else')
        },
        { params: {} },
      )
      ctx.events.subscribe('lights.#', () => undefined)
      await ctx.events.publish('lights.kitchen.changed', { on: true })
      await ctx.state.set('lights', 'kitchen', { on: true })
      await ctx.state.set('lights', 'hall', 1, { ttlMs: 1_000 })
      await ctx.state.delete('lights', 'kitchen')
      await ctx.storage.set('note', { text: 'hi' })
      await ctx.storage.get('note')
    },
  },
}

/** A plugin that is refused one call (a denial) and fails to start. */
const nosy: InlinePlugin = {
  manifest: { name: 'nosy', coreApi: '^1.0.0' },
  plugin: {
    async setup(ctx: PluginContext) {
      await ctx.services.call('lights.set', { on: true }).catch(() => undefined)
    },
    start() {
      throw new Error('nope')
    },
  },
}

function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

async function busyKernel(): Promise<Kernel> {
  const clock = createFakeClock()
  const kernel = testKernel({ clock, plugins: [busy, nosy] })
  await kernel.start()
  await kernel.services.call('lights.set', { on: false })
  await kernel.services.call('lights.fail', {}).catch(() => undefined)
  await clock.advance(1_000) // `hall` expires
  return kernel
}

describe('kernel.metrics', () => {
  it('holds the bus, services, state, storage and plugin metrics without any HTTP adapter', async () => {
    const kernel = await busyKernel()
    const text = await kernel.metrics.metrics()
    expect(sample(text, 'core_bus_events_published_total')).toBe(kernel.bus.stats().published)
    expect(sample(text, 'core_bus_events_delivered_total')).toBeGreaterThanOrEqual(1)
    expect(sample(text, 'core_bus_events_failed_total')).toBe(0)
    expect(sample(text, 'core_bus_events_dropped_total')).toBe(0)
    expect(sample(text, 'core_bus_queued_events')).toBe(0)
    expect(sample(text, 'core_bus_subscriptions')).toBe(kernel.bus.stats().subscriptions)

    expect(sample(text, 'core_service_calls_total{service="lights.set",outcome="ok"}')).toBe(1)
    expect(
      sample(text, 'core_service_calls_total{service="lights.fail",outcome="E_CONFLICT"}'),
    ).toBe(1)
    expect(
      sample(text, 'core_service_call_duration_seconds_count{service="lights.set",outcome="ok"}'),
    ).toBe(1)

    expect(sample(text, 'core_state_writes_total{namespace="lights",op="set"}')).toBe(2)
    expect(sample(text, 'core_state_writes_total{namespace="lights",op="delete"}')).toBe(1)
    expect(sample(text, 'core_state_expiries_total{namespace="lights"}')).toBe(1)
    expect(sample(text, 'core_state_keys{namespace="lights"}')).toBe(0)

    expect(sample(text, 'core_storage_operations_total{op="set",outcome="ok"}')).toBe(1)
    expect(sample(text, 'core_storage_operations_total{op="get",outcome="ok"}')).toBe(1)
    expect(
      sample(text, 'core_storage_operation_duration_seconds_count{op="get",outcome="ok"}'),
    ).toBe(1)
    expect(sample(text, 'core_storage_busy_retries_total{adapter="memory"}')).toBe(0)

    expect(sample(text, 'core_plugins{state="started"}')).toBe(1)
    expect(sample(text, 'core_plugins{state="failed"}')).toBe(1)
    expect(sample(text, 'core_plugin_state{plugin="lights",state="started"}')).toBe(1)
    expect(sample(text, 'core_plugin_state{plugin="nosy",state="failed"}')).toBe(1)
    expect(sample(text, 'core_plugin_state{plugin="nosy",state="started"}')).toBe(0)
    expect(sample(text, 'core_kernel_permission_denials_total{plugin="nosy"}')).toBe(1)
  })

  it('uses the registry passed as `metrics`, next to what the app registered there', async () => {
    const registry = new Registry()
    const kernel = testKernel({ metrics: registry })
    expect(kernel.metrics).toBe(registry)
    expect(registry.getSingleMetric('core_bus_events_published_total')).toBeDefined()
  })

  it('refuses a `metrics` option that is not a registry with E_VALIDATION', async () => {
    await expectCoreError(() => testKernel({ metrics: {} as Registry }), 'E_VALIDATION', {
      details: { option: 'metrics' },
    })
  })

  it.skipIf(!HAVE_PROMTOOL && !IN_CI)('passes `promtool check metrics`', async () => {
    const kernel = await busyKernel()
    const { code, output } = await promtoolCheckMetrics(await kernel.metrics.metrics())
    expect(output.trim()).toBe('')
    expect(code).toBe(0)
  })
})
