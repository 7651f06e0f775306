import { fileURLToPath } from 'node:url'
import { threadId } from 'node:worker_threads'
import { type CloudEvent, CoreError } from '@core/contracts'
import { afterEach, describe, expect, it } from 'vitest'
import type { InlinePlugin, Kernel } from '../../src/index.js'
import { testKernel } from '../helpers.js'

const worky = fileURLToPath(new URL('./fixtures/worky', import.meta.url))

/** An inline plugin offering `host.add`, and publishing `host.ping`. */
const host: InlinePlugin = {
  manifest: { name: 'host', coreApi: '^1.0.0' },
  plugin: {
    setup(ctx) {
      ctx.services.register('host.add', (p: { a: number; b: number }) => ({ sum: p.a + p.b }), {
        params: {},
      })
      ctx.services.register('host.alive', () => 'yes', { params: {} })
    },
  },
}

async function boot(extra: Parameters<typeof testKernel>[0] = {}): Promise<Kernel> {
  const kernel = testKernel({
    plugins: [host, worky],
    config: { worky: { greeting: 'hello' } },
    lifecycleTimeoutMs: 5_000,
    ...extra,
  })
  const report = await kernel.start()
  if (process.env.ISO_DEBUG) console.log(JSON.stringify(report, null, 1))
  return kernel
}

describe('worker isolation', () => {
  it('runs the plugin in another thread and serves a call into it, params frozen there', async () => {
    const kernel = await boot()
    const out = (await kernel.services.call('worky.echo', { a: [1] })) as Record<string, unknown>
    expect(out).toEqual({
      params: { a: [1] },
      frozen: true,
      caller: null,
      greeting: 'hello',
      thread: expect.any(Number),
    })
    expect(out.thread).not.toBe(threadId)
    expect((await kernel.plugins.get('worky')).state).toBe('started')
  })
})
