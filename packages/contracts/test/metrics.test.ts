import { describe, expect, it } from 'vitest'
import { componentMetrics, createHistogramFamily, metricOf } from '../src/index.js'

describe('createHistogramFamily', () => {
  it('counts observations into cumulative buckets, a sum and a count per label set', async () => {
    const family = createHistogramFamily({
      name: 'x_seconds',
      help: 'X',
      counterName: 'x_total',
      counterHelp: 'Xs',
      buckets: [0.1, 1],
    })
    const ok = family.series({ outcome: 'ok' })
    ok.observe(0.05)
    ok.observe(0.1)
    ok.observe(5)
    family.series({ outcome: 'E_TIMEOUT' }).observe(0.5)
    const [histogram, counter] = family.sources
    const h = await histogram.get()
    expect(h.type).toBe('histogram')
    expect(h.values.filter((v) => v.labels.outcome === 'ok')).toEqual([
      { labels: { le: '0.1', outcome: 'ok' }, value: 2, metricName: 'x_seconds_bucket' },
      { labels: { le: '1', outcome: 'ok' }, value: 2, metricName: 'x_seconds_bucket' },
      { labels: { le: '+Inf', outcome: 'ok' }, value: 3, metricName: 'x_seconds_bucket' },
      { labels: { outcome: 'ok' }, value: 5.15, metricName: 'x_seconds_sum' },
      { labels: { outcome: 'ok' }, value: 3, metricName: 'x_seconds_count' },
    ])
    expect((await counter.get()).values).toEqual([
      { labels: { outcome: 'ok' }, value: 3 },
      { labels: { outcome: 'E_TIMEOUT' }, value: 1 },
    ])
    histogram.reset()
    expect(ok).toMatchObject({ count: 0, sum: 0 })
  })
})

describe('metricOf and componentMetrics', () => {
  it('reads values when scraped and registers each name once per registry', async () => {
    let n = 1
    const source = metricOf('y_total', 'Y', 'counter', () => [[{ a: 'b' }, n]])
    n = 7
    expect((await source.get()).values).toEqual([{ labels: { a: 'b' }, value: 7 }])
    const registered: string[] = []
    const registry = {
      registerMetric: (m: never) => registered.push((m as { name: string }).name),
      getSingleMetric: (name: string) => (registered.includes(name) ? {} : undefined),
    }
    const metrics = componentMetrics([source])
    metrics.register(registry)
    metrics.register(registry)
    expect(registered).toEqual(['y_total'])
  })
})
