import { fileURLToPath } from 'node:url'
import v8 from 'node:v8'
import vm from 'node:vm'
import { describe, expect, it } from 'vitest'
import { testKernel } from '../helpers.js'

const reloady = fileURLToPath(new URL('./fixtures/reloady', import.meta.url))

function gc(): () => void {
  const exposed = (globalThis as { gc?: () => void }).gc
  if (exposed) return exposed
  v8.setFlagsFromString('--expose-gc')
  return vm.runInNewContext('gc') as () => void
}

describe('worker isolation: reload', () => {
  it('replaces the worker on each of 200 reloads: the main heap stays bounded, nothing piles up', async () => {
    const kernel = testKernel({ plugins: [reloady] })
    await kernel.start()
    const collect = gc()
    const baseline = {
      resources: kernel.stats().resources,
      subscriptions: kernel.bus.stats().subscriptions,
      services: kernel.services.list().length,
    }
    for (let i = 0; i < 20; i++) await kernel.plugins.reload('reloady')
    await new Promise((r) => setTimeout(r, 50))
    collect()
    const before = process.memoryUsage().heapUsed
    for (let i = 0; i < 200; i++) await kernel.plugins.reload('reloady')
    await new Promise((r) => setTimeout(r, 50))
    collect()
    // Each module instance holds 4 MB in its worker: kept alive 200 times over, it would show.
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(8 * 1024 * 1024)
    expect(kernel.stats().resources).toEqual(baseline.resources)
    expect(kernel.bus.stats().subscriptions).toBe(baseline.subscriptions)
    expect(kernel.services.list().length).toBe(baseline.services)
    expect((await kernel.plugins.get('reloady')).reloads).toBe(220)
    expect(await kernel.services.call('reloady.ping', {})).toBe(512 * 1024)
  }, 180_000)
})
