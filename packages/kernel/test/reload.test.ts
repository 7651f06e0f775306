import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { CoreError } from '@core/contracts'
import { describe, expect, it, vi } from 'vitest'
import { definePlugin, type InlinePlugin } from '../src/index.js'
import { recordTransitions, tempDir, testKernel, writePlugin } from './helpers.js'
import { heapGrowthOverReloads, reloadBaseline } from './reload-helpers.js'

const versioned = (answer: string): string => `
const instance = Math.random()
export default {
  setup(ctx) {
    ctx.services.register(ctx.name + '.answer', () => ({ answer: '${answer}', instance }), { params: {} })
  },
}
`

/** A plugin that makes one of everything through ctx and cleans up nothing itself. */
const busy = `
export default {
  setup(ctx) {
    ctx.services.register('busy.ping', () => 'pong', { params: {} })
    ctx.services.register('busy.pong', () => 'ping', { params: {} })
    ctx.events.subscribe('busy.#', () => {})
    ctx.events.subscribe('state.busy.#', () => {})
    ctx.state.watch('busy', '#', () => {})
    ctx.setInterval(() => {}, 60_000)
    ctx.setTimeout(() => {}, 60_000)
    this.blob = new Array(1000).fill('x'.repeat(10))
  },
}
`

describe('reload', () => {
  it('should re-import the entry as a fresh module instance and pick up changed code', async () => {
    const root = await tempDir()
    const dir = await writePlugin(root, 'answers', { code: versioned('one') })
    const kernel = testKernel({ plugins: [dir] })
    await kernel.start()
    const first = await kernel.services.call<{ answer: string; instance: number }>(
      'answers.answer',
      {},
    )
    await writeFile(join(dir, 'index.js'), versioned('two'))
    const info = await kernel.plugins.reload('answers')
    expect(info).toMatchObject({ state: 'started', reloads: 1 })
    const second = await kernel.services.call<{ answer: string; instance: number }>(
      'answers.answer',
      {},
    )
    expect(first.answer).toBe('one')
    expect(second.answer).toBe('two')
    expect(second.instance).not.toBe(first.instance)
  })

  it('should re-read the manifest on reload', async () => {
    const root = await tempDir()
    const dir = await writePlugin(root, 'grows', { version: '1.0.0' })
    const kernel = testKernel({ plugins: [dir] })
    await kernel.start()
    await writePlugin(root, 'grows', {
      version: '1.1.0',
      manifest: { description: 'now described' },
    })
    expect(await kernel.plugins.reload('grows')).toMatchObject({
      version: '1.1.0',
      description: 'now described',
    })
  })

  it('should restart started dependents in order around the reload', async () => {
    const plain = (name: string, requires: Record<string, string> = {}): InlinePlugin => ({
      manifest: { name, coreApi: '^1.0.0', requires },
      plugin: definePlugin({ setup() {} }),
    })
    const kernel = testKernel({
      plugins: [plain('a'), plain('b', { a: '*' }), plain('c', { b: '*' }), plain('d')],
    })
    await kernel.start()
    const seen = recordTransitions(kernel)
    await kernel.plugins.reload('a')
    await expect.poll(() => seen.includes('c:started'), { timeout: 5_000 }).toBe(true)
    expect(seen).toEqual([
      'c:stopped',
      'b:stopped',
      'a:stopped',
      'a:unloaded',
      'a:discovered',
      'a:loaded',
      'a:setup',
      'a:started',
      'b:started',
      'c:started',
    ])
  })

  it('should keep events flowing to the other plugins while one reloads', async () => {
    let received = 0
    const kernel = testKernel({
      plugins: [
        {
          manifest: {
            name: 'listener',
            coreApi: '^1.0.0',
            permissions: { events: { subscribe: ['source.#'] } },
          },
          plugin: {
            setup: (ctx) => void ctx.events.subscribe('source.tick', () => void received++),
          },
        },
        {
          manifest: { name: 'churn', coreApi: '^1.0.0' },
          plugin: { setup: (ctx) => void ctx.events.subscribe('churn.#', () => {}) },
        },
      ],
    })
    await kernel.start()
    let sent = 0
    let reloading = true
    const publisher = (async () => {
      while (reloading) {
        await kernel.bus.publish('source.tick', { n: sent++ })
      }
    })()
    for (let i = 0; i < 50; i++) await kernel.plugins.reload('churn')
    reloading = false
    await publisher
    await expect.poll(() => received, { timeout: 5_000 }).toBe(sent)
    expect(sent).toBeGreaterThan(0)
    expect(received).toBe(sent)
  })

  it('should release everything made through ctx: 1,000 reloads leave subscriptions, services, watches and timers at baseline and heap bounded', async () => {
    const root = await tempDir()
    const dir = await writePlugin(root, 'busy', { code: busy })
    const kernel = testKernel({ plugins: [dir] })
    await kernel.start()
    const baseline = reloadBaseline(kernel)
    const growth = await heapGrowthOverReloads(kernel, 'busy', { warmup: 50, times: 1_000 })
    expect(kernel.stats().resources).toEqual(baseline.resources)
    expect(kernel.stats().resources).toEqual({
      subscriptions: 2,
      services: 2,
      watches: 1,
      timers: 2,
    })
    expect(kernel.bus.stats().subscriptions).toBe(baseline.subscriptions)
    expect(kernel.services.list().length).toBe(baseline.services)
    expect((await kernel.plugins.get('busy')).reloads).toBe(1_050)
    // Old ES module instances stay in memory (the ESM limit, see README); everything else is
    // released, so growth stays far below what 1,000 leaked plugin instances (≥ 10 KB each) would cost.
    console.log(`heap growth over 1,000 reloads: ${(growth / 1024 / 1024).toFixed(1)} MiB`)
    expect(growth).toBeLessThan(64 * 1024 * 1024)
    await kernel.plugins.unload('busy')
    expect(kernel.stats().resources).toEqual({
      subscriptions: 0,
      services: 0,
      watches: 0,
      timers: 0,
    })
    expect(kernel.bus.stats().subscriptions).toBe(baseline.subscriptions - 3)
  }, 120_000)

  it('should let every old context be garbage-collected: 1,000 reloads of an inline plugin keep heap growth under 8 MiB', async () => {
    const contexts: Array<WeakRef<object>> = []
    const plugin = definePlugin({
      setup(ctx) {
        contexts.push(new WeakRef(ctx))
        ctx.services.register('tiny.ping', () => 'pong', { params: {} })
        ctx.events.subscribe('tiny.#', () => {})
        ctx.setInterval(() => {}, 60_000)
      },
    })
    const kernel = testKernel({
      plugins: [{ manifest: { name: 'tiny', coreApi: '^1.0.0' }, plugin }],
    })
    await kernel.start()
    const growth = await heapGrowthOverReloads(kernel, 'tiny', {
      warmup: 50,
      times: 1_000,
      settleMs: 0,
    })
    expect(growth).toBeLessThan(8 * 1024 * 1024)
    expect(kernel.stats().resources).toEqual({
      subscriptions: 1,
      services: 1,
      watches: 0,
      timers: 1,
    })
    expect(contexts).toHaveLength(1_051)
    // Only the live context (and at most a few not yet swept) remain.
    expect(contexts.filter((ref) => ref.deref() !== undefined).length).toBeLessThan(10)
  }, 60_000)

  it('should mark a plugin failed when the reloaded code throws, leave its dependents stopped with a reason, and recover', async () => {
    const root = await tempDir()
    const dir = await writePlugin(root, 'flaky', { code: versioned('ok') })
    const kernel = testKernel({
      plugins: [
        dir,
        {
          manifest: { name: 'user', coreApi: '^1.0.0', requires: { flaky: '*' } },
          plugin: { setup() {} },
        },
      ],
    })
    await kernel.start()
    await writeFile(join(dir, 'index.js'), 'throw new Error("syntax of the day")\n')
    const error = await kernel.plugins.reload('flaky').catch((e: unknown) => e)
    expect(CoreError.is(error, 'E_PLUGIN_LIFECYCLE')).toBe(true)
    expect((error as CoreError).message).toBe('Plugin "flaky" failed at load: syntax of the day')
    expect(await kernel.plugins.get('user')).toMatchObject({
      state: 'stopped',
      reason: 'not restarted: dependency "flaky" failed to reload',
    })
    expect((await kernel.health()).status).toBe('degraded')
    await writeFile(join(dir, 'index.js'), versioned('fixed'))
    await kernel.plugins.reload('flaky')
    await kernel.plugins.start('user')
    expect((await kernel.health()).status).toBe('healthy')
    expect(await kernel.services.call('flaky.answer', {})).toMatchObject({ answer: 'fixed' })
  })

  it('should start a plugin that failed at discovery once its package.json is fixed', async () => {
    const root = await tempDir()
    const dir = await writePlugin(root, 'later')
    await writeFile(join(dir, 'package.json'), '{ "name": "later", ')
    const kernel = testKernel({ plugins: [dir] })
    const report = await kernel.start()
    expect(report.failed[0]).toMatchObject({ name: 'later', step: 'discover' })
    await writePlugin(root, 'later')
    expect((await kernel.plugins.reload('later')).state).toBe('started')
  })

  it('should reload a plugin when its files change in watch mode', async () => {
    const root = await tempDir()
    const dir = await writePlugin(root, 'watched', { code: versioned('before') })
    const kernel = testKernel({ plugins: [dir], watch: { debounceMs: 30 } })
    await kernel.start()
    await writeFile(join(dir, 'index.js'), versioned('after'))
    await vi.waitFor(
      async () => {
        const info = await kernel.plugins.get('watched')
        expect(info.reloads).toBe(1)
        expect(info.state).toBe('started')
      },
      { timeout: 5_000 },
    )
    expect(await kernel.services.call('watched.answer', {})).toMatchObject({ answer: 'after' })
  })
})

describe('kernel.plugins', () => {
  const chain = (): InlinePlugin[] => [
    {
      manifest: { name: 'a', coreApi: '^1.0.0' },
      version: '1.0.0',
      plugin: definePlugin({
        setup: (ctx) => void ctx.services.register('a.x', () => 1, { params: {} }),
      }),
    },
    {
      manifest: { name: 'b', coreApi: '^1.0.0', requires: { a: '^1.0.0' } },
      version: '1.0.0',
      plugin: definePlugin({ setup() {} }),
    },
  ]

  it('should stop dependents first, record why, and start a stopped plugin again', async () => {
    const kernel = testKernel({ plugins: chain() })
    await kernel.start()
    expect((await kernel.plugins.get('a')).dependents).toEqual(['b'])
    await kernel.plugins.stop('a')
    expect(await kernel.plugins.get('b')).toMatchObject({
      state: 'stopped',
      reason: 'dependency "a" was stopped',
    })
    const error = await kernel.plugins.start('b').catch((e: unknown) => e)
    expect((error as CoreError).message).toBe(
      'Cannot start plugin "b": dependency "a" is stopped; start it first',
    )
    await kernel.plugins.start('a')
    expect((await kernel.plugins.start('b')).state).toBe('started')
    expect((await kernel.plugins.get('b')).reason).toBeUndefined()
  })

  it('should unload a plugin, releasing its services, and start it again from scratch', async () => {
    const kernel = testKernel({ plugins: chain() })
    await kernel.start()
    expect((await kernel.plugins.unload('a')).state).toBe('unloaded')
    expect(kernel.services.has('a.x')).toBe(false)
    expect((await kernel.plugins.get('b')).state).toBe('stopped')
    expect((await kernel.plugins.start('a')).state).toBe('started')
    expect(kernel.services.has('a.x')).toBe(true)
  })

  it('should load a plugin package at runtime and refuse a second plugin of the same name', async () => {
    const root = await tempDir()
    const kernel = testKernel({ plugins: chain() })
    await kernel.start()
    const dir = await writePlugin(root, 'late', { manifest: { requires: { a: '^1.0.0' } } })
    const info = await kernel.plugins.load(dir)
    expect(info).toMatchObject({ name: 'late', state: 'started', source: 'load', path: dir })
    const other = await writePlugin(await tempDir(), 'late')
    const error = await kernel.plugins.load(other).catch((e: unknown) => e)
    expect(CoreError.is(error, 'E_PLUGIN_MANIFEST')).toBe(true)
    expect((error as CoreError).message).toContain(dir)
    expect((error as CoreError).message).toContain(other)
    expect((await kernel.plugins.list()).map((p) => p.name)).toEqual(['a', 'b', 'late'])
  })

  it('should refuse to load a plugin whose dependency is missing', async () => {
    const kernel = testKernel()
    await kernel.start()
    const dir = await writePlugin(await tempDir(), 'lonely', {
      manifest: { requires: { friend: '^1.0.0' } },
    })
    const error = await kernel.plugins.load(dir).catch((e: unknown) => e)
    expect(CoreError.is(error, 'E_PLUGIN_DEPENDENCY')).toBe(true)
    expect((await kernel.plugins.get('lonely')).state).toBe('failed')
  })
})
