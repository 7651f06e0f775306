import { HAVE_PROMTOOL, IN_CI, promtoolCheckMetrics } from '@core/contracts/testing'
import type { PluginContext } from '@core/kernel'
import { describe, expect, it } from 'vitest'
import { type Hub, lightsPlugin, startHub } from './helpers.js'

if (!HAVE_PROMTOOL && !IN_CI) {
  console.warn(
    '[@core/http] promtool not found: the `promtool check metrics` test is skipped. Install it with `apt-get install -y prometheus` (Debian package `prometheus`).',
  )
}

/** A plugin that is refused one call, so that denials show up. */
const nosyPlugin = {
  manifest: { name: 'nosy', coreApi: '^1.0.0' },
  plugin: {
    async setup(ctx: PluginContext) {
      await ctx.services.call('lights.echo', 1).catch(() => undefined)
    },
  },
}

/** A hub with some traffic of every kind. */
async function busyHub(): Promise<Hub> {
  const hub = await startHub({}, { plugins: [lightsPlugin, nosyPlugin] })
  await hub.call('/api/v1/services/lights.set', { method: 'POST', body: { room: 'a', on: true } })
  await hub.call('/api/v1/services/lights.set', { method: 'POST', body: { room: 'a' } })
  await hub.call('/api/v1/services/lights.fail', { method: 'POST', body: { code: 'E_CONFLICT' } })
  await hub.call('/api/v1/services/lights.slow', { method: 'POST' })
  await hub.call('/api/v1/state/lights/kitchen', { method: 'PUT', body: { value: 1 } })
  await hub.call('/api/v1/state/lights/hall', { method: 'PUT', body: { value: 2 } })
  await hub.call('/api/v1/events/lights.x', { method: 'POST', body: 1 })
  await hub.call('/nothing')
  return hub
}

async function scrape(hub: Hub): Promise<string> {
  const res = await hub.call('/metrics', { token: null })
  expect(res.status).toBe(200)
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/)
  return res.text()
}

function value(text: string, series: string): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1))
  }
  return undefined
}

describe('GET /metrics', () => {
  it('counts HTTP requests by method, route pattern and status', async () => {
    const hub = await busyHub()
    const text = await scrape(hub)
    expect(
      value(
        text,
        'core_http_requests_total{method="POST",route="/api/v1/services/:name",status="200"}',
      ),
    ).toBe(1)
    expect(
      value(
        text,
        'core_http_requests_total{method="POST",route="/api/v1/services/:name",status="409"}',
      ),
    ).toBe(1)
    expect(
      value(text, 'core_http_requests_total{method="GET",route="unmatched",status="404"}'),
    ).toBe(1)
    expect(text).toContain('core_http_request_duration_seconds_bucket{le="0.001",method="POST"')
  })

  it('counts service calls by service and outcome with a duration histogram', async () => {
    const hub = await busyHub()
    const text = await scrape(hub)
    expect(value(text, 'core_service_calls_total{service="lights.set",outcome="ok"}')).toBe(1)
    expect(
      value(text, 'core_service_calls_total{service="lights.fail",outcome="E_CONFLICT"}'),
    ).toBe(1)
    expect(value(text, 'core_service_calls_total{service="lights.slow",outcome="E_TIMEOUT"}')).toBe(
      1,
    )
    expect(
      value(text, 'core_service_call_duration_seconds_count{service="lights.set",outcome="ok"}'),
    ).toBe(1)
  })

  it('serves the kernel registry: bus counters, plugins by state, state keys, denials', async () => {
    const hub = await busyHub()
    const text = await scrape(hub)
    const stats = hub.kernel.bus.stats()
    expect(value(text, 'core_bus_events_published_total')).toBeGreaterThanOrEqual(2)
    expect(value(text, 'core_bus_events_published_total')).toBeLessThanOrEqual(stats.published)
    expect(value(text, 'core_bus_events_failed_total')).toBe(0)
    expect(value(text, 'core_plugins{state="started"}')).toBe(2)
    expect(value(text, 'core_plugins{state="failed"}')).toBe(0)
    expect(value(text, 'core_state_keys{namespace="lights"}')).toBe(2)
    expect(value(text, 'core_kernel_permission_denials_total{plugin="nosy"}')).toBe(1)
    expect(text).toContain('process_cpu_user_seconds_total')
  })

  it('uses its own registry: two servers do not share series', async () => {
    const a = await startHub()
    const b = await startHub()
    await a.call('/api/v1/services/lights.echo', { method: 'POST', body: 1 })
    const text = await scrape(b)
    expect(text).not.toContain('service="lights.echo"')
    expect(a.http.metrics).not.toBe(b.http.metrics)
  })

  it.skipIf(!HAVE_PROMTOOL && !IN_CI)('passes `promtool check metrics`', async () => {
    const hub = await busyHub()
    const { code, output } = await promtoolCheckMetrics(await scrape(hub))
    expect(output.trim()).toBe('')
    expect(code).toBe(0)
  })
})
