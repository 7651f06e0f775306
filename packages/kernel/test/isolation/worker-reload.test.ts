import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { testKernel } from '../helpers.js'
import { heapGrowthOverReloads, reloadBaseline } from '../reload-helpers.js'

const reloady = fileURLToPath(new URL('./fixtures/reloady', import.meta.url))

describe('worker isolation: reload', () => {
  it('replaces the worker on each of 200 reloads: the main heap stays bounded, nothing piles up', async () => {
    const kernel = testKernel({ plugins: [reloady] })
    await kernel.start()
    const baseline = reloadBaseline(kernel)
    const growth = await heapGrowthOverReloads(kernel, 'reloady', {
      warmup: 20,
      times: 200,
      settleMs: 50,
    })
    // Each module instance holds 4 MB in its worker: kept alive 200 times over, it would show.
    expect(growth).toBeLessThan(8 * 1024 * 1024)
    expect(kernel.stats().resources).toEqual(baseline.resources)
    expect(kernel.bus.stats().subscriptions).toBe(baseline.subscriptions)
    expect(kernel.services.list().length).toBe(baseline.services)
    expect((await kernel.plugins.get('reloady')).reloads).toBe(220)
    expect(await kernel.services.call('reloady.ping', {})).toBe(512 * 1024)
  }, 180_000)
})
