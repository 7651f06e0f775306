import { CoreError, type StateChange } from '@core/contracts'
import { definePlugin, type InlinePlugin, type PluginContext } from '@core/kernel'
import { createMemoryAdapter, createStorage } from '@core/storage'
import { describe, expect, it } from 'vitest'
import * as api from '../src/index.js'
import { createFakeClock, createMockHub } from '../src/index.js'

const fixtures = new URL('./fixtures/', import.meta.url)

/** A small plugin: a counter in state, a service, an event, a TTL and a timer. */
const counter: InlinePlugin = {
  manifest: {
    name: 'counter',
    coreApi: '^1.0.0',
    permissions: { services: { call: ['clock.*'] } },
    config: {
      type: 'object',
      properties: {
        step: { type: 'integer', default: 1 },
        tickMs: { type: 'integer', default: 0 },
      },
    },
  },
  version: '1.2.3',
  plugin: definePlugin<{ step: number; tickMs: number }>({
    setup(ctx) {
      let n = 0
      ctx.services.register(
        'counter.bump',
        async () => {
          n += ctx.config.step
          await ctx.state.set('counter', 'value', n)
          await ctx.events.publish('counter.bumped', { n })
          return n
        },
        { params: {} },
      )
      ctx.services.register(
        'counter.flash',
        async ({ ttlMs }: { ttlMs: number }) => {
          await ctx.state.set('counter', 'flash', true, { ttlMs })
          return true
        },
        { params: { type: 'object', properties: { ttlMs: { type: 'integer' } } } },
      )
      ctx.services.register('counter.hang', () => new Promise(() => {}), {
        params: {},
        timeoutMs: 5_000,
      })
      ctx.services.register('counter.now', () => ctx.services.call('clock.now', {}), { params: {} })
      if (ctx.config.tickMs > 0) {
        ctx.setInterval(() => {
          void ctx.events.publish('counter.tick', { at: Date.now() })
        }, ctx.config.tickMs)
      }
    },
  }),
}

describe('createMockHub', () => {
  it('boots inline plugins and calls their services from the test', async () => {
    const hub = await createMockHub({ plugins: [counter], config: { counter: { step: 5 } } })
    expect(hub.report?.started).toEqual(['counter'])
    expect(await hub.call('counter.bump')).toBe(5)
    expect(await hub.call('counter.bump')).toBe(10)
    expect((await hub.state.get('counter', 'value'))?.value).toBe(10)
    expect((await hub.plugins.get('counter')).version).toBe('1.2.3')
    await hub.stop()
  })

  it('records events and resolves expectEvent with the envelope, each event once', async () => {
    const hub = await createMockHub({ plugins: [counter] })
    await hub.call('counter.bump')
    await hub.call('counter.bump')
    const first = await hub.expectEvent<{ n: number }>('counter.bumped')
    expect(first).toMatchObject({
      type: 'counter.bumped',
      source: '/plugins/counter',
      specversion: '1.0',
      data: { n: 1 },
    })
    const second = await hub.expectEvent<{ n: number }>('counter.*')
    expect(second.data.n).toBe(2)
    expect(hub.events('counter.bumped').map((e) => e.data)).toEqual([{ n: 1 }, { n: 2 }])
    expect(hub.events('state.counter.#')).toHaveLength(2)
    expect(hub.events().some((e) => e.type === 'core.plugin.started')).toBe(true)
    await hub.stop()
  })

  it('waits in expectEvent for an event still to come, filtered by where', async () => {
    const hub = await createMockHub({ plugins: [counter] })
    const third = hub.expectEvent<{ n: number }>('counter.bumped', { where: { n: 3 } })
    const byPredicate = hub.expectEvent<{ n: number }>('counter.bumped', {
      where: (e) => e.data.n === 2,
    })
    for (let i = 0; i < 3; i++) await hub.call('counter.bump')
    expect((await third).data.n).toBe(3)
    expect((await byPredicate).data.n).toBe(2)
    await hub.stop()
  })

  it('rejects expectEvent with E_TIMEOUT naming the events seen, and a bad pattern with E_VALIDATION', async () => {
    const hub = await createMockHub({ plugins: [counter] })
    await hub.call('counter.bump')
    const error = await hub.expectEvent('counter.never', { timeoutMs: 20 }).catch((e: unknown) => e)
    expect(CoreError.is(error, 'E_TIMEOUT')).toBe(true)
    expect((error as Error).message).toContain('counter.bumped')
    const bad = await hub.expectEvent('counter..x').catch((e: unknown) => e)
    expect(CoreError.is(bad, 'E_VALIDATION')).toBe(true)
    await hub.stop()
  })

  it('acts as a plugin through its own context, permission-checked like the plugin', async () => {
    const hub = await createMockHub({
      plugins: [counter],
      services: { 'clock.now': () => 1234, 'secret.read': () => 'top secret' },
    })
    const me = hub.as('counter')
    expect(me.name).toBe('counter')
    expect(me.ctx.config).toEqual({ step: 1, tickMs: 0 })
    expect(await me.call('clock.now')).toBe(1234)
    const denied = await me.call('secret.read').catch((e: unknown) => e)
    expect(CoreError.is(denied, 'E_FORBIDDEN')).toBe(true)
    expect((denied as Error).message).toContain('secret.read')
    expect((await hub.plugins.get('counter')).denials).toBe(1)
    const forbiddenPublish = await me.publish('other.thing').catch((e: unknown) => e)
    expect(CoreError.is(forbiddenPublish, 'E_FORBIDDEN')).toBe(true)
    expect(hub.logs('warn').length).toBeGreaterThanOrEqual(2)
    await hub.stop()
  })

  it('refuses as() for a plugin it does not know with E_NOT_FOUND', async () => {
    const hub = await createMockHub({ plugins: [counter] })
    expect(() => hub.as('nobody')).toThrow(/No plugin "nobody".*counter/)
    await hub.stop()
  })

  it('stubs services and records every call with its caller', async () => {
    const hub = await createMockHub({
      plugins: [counter],
      services: {
        'clock.now': { handler: () => 99, version: '2.0.0', result: { type: 'integer' } },
      },
    })
    expect(await hub.call('counter.now')).toBe(99)
    const call = await hub.expectCall('clock.now')
    expect(call).toMatchObject({
      name: 'clock.now',
      version: '2.0.0',
      caller: 'counter',
      ok: true,
      result: 99,
    })
    expect(hub.calls('counter.now')[0]?.caller).toBeUndefined()
    const off = hub.stub('clock.other', () => 'x')
    expect(await hub.call('clock.other')).toBe('x')
    off()
    const missing = await hub.call('clock.other').catch((e: unknown) => e)
    expect(CoreError.is(missing, 'E_SERVICE_NOT_FOUND')).toBe(true)
    expect(hub.calls('clock.other').map((c) => c.ok)).toEqual([true])
    const failing = hub.stub('clock.fail', () => {
      throw new CoreError('E_CONFLICT', 'busy')
    })
    await hub.call('clock.fail').catch(() => undefined)
    expect(hub.calls('clock.fail')[0]).toMatchObject({ ok: false, error: { code: 'E_CONFLICT' } })
    failing()
    await hub.stop()
  })

  it('waits in expectCall for a call still to come, filtered by params', async () => {
    const hub = await createMockHub({ services: { 'lights.set': ({ on }: { on: boolean }) => on } })
    const on = hub.expectCall('lights.set', { where: { on: true } })
    await hub.call('lights.set', { on: false })
    await hub.call('lights.set', { on: true })
    expect((await on).params).toEqual({ on: true })
    const none = await hub
      .expectCall('lights.set', { timeoutMs: 10, where: (c) => c.params === 'x' })
      .catch((e: unknown) => e)
    expect(CoreError.is(none, 'E_TIMEOUT')).toBe(true)
    await hub.stop()
  })

  it('drives state TTLs with the fake clock', async () => {
    const hub = await createMockHub({ plugins: [counter] })
    await hub.call('counter.flash', { ttlMs: 1_000 })
    expect(await hub.state.has('counter', 'flash')).toBe(true)
    await hub.clock.advance(999)
    expect(await hub.state.has('counter', 'flash')).toBe(true)
    await hub.clock.advance(1)
    expect(await hub.state.has('counter', 'flash')).toBe(false)
    const expired = await hub.expectEvent<StateChange>('state.counter.flash', {
      where: { reason: 'expired' },
    })
    expect(expired.data.key).toBe('flash')
    await hub.stop()
  })

  it('drives service-call deadlines with the fake clock', async () => {
    const hub = await createMockHub({ plugins: [counter] })
    const call = hub.call('counter.hang').catch((e: unknown) => e)
    await hub.clock.advance(4_999)
    await hub.clock.advance(1)
    const error = await call
    expect(CoreError.is(error, 'E_TIMEOUT')).toBe(true)
    await hub.stop()
  })

  it('drives plugin timers (ctx.setInterval) with the fake clock', async () => {
    const hub = await createMockHub({ plugins: [counter], config: { counter: { tickMs: 100 } } })
    await hub.clock.advance(350)
    expect(hub.events('counter.tick')).toHaveLength(3)
    await hub.stop()
    await hub.clock.advance(1_000)
    expect(hub.events('counter.tick')).toHaveLength(3)
  })

  it('rejects with the kernel error when a required plugin fails, and reports degraded when none is required', async () => {
    const broken: InlinePlugin = {
      manifest: { name: 'broken', coreApi: '^1.0.0' },
      plugin: {
        setup() {
          throw new Error('no config file')
        },
      },
    }
    const error = await createMockHub({ plugins: [broken] }).catch((e: unknown) => e)
    expect(CoreError.is(error, 'E_PLUGIN_LIFECYCLE')).toBe(true)
    expect((error as Error).message).toMatch(/broken.*setup.*no config file/)
    const hub = await createMockHub({ plugins: [broken, counter], required: [] })
    expect(hub.report?.failed.map((f) => f.name)).toEqual(['broken'])
    expect((await hub.health()).status).toBe('degraded')
    await hub.stop()
  })

  it('gives up a boot hanging on the fake clock after bootTimeoutMs of real time', async () => {
    const hanging: InlinePlugin = {
      manifest: { name: 'hanging', coreApi: '^1.0.0' },
      plugin: { setup: () => new Promise<void>(() => {}) },
    }
    const error = await createMockHub({ plugins: [hanging], bootTimeoutMs: 30 }).catch(
      (e: unknown) => e,
    )
    expect(CoreError.is(error, 'E_TIMEOUT')).toBe(true)
    expect((error as Error).message).toContain('clock.advance')
  })

  it('fails a hanging setup with E_PLUGIN_LIFECYCLE once the fake clock passes the lifecycle timeout', async () => {
    const hanging: InlinePlugin = {
      manifest: { name: 'hanging', coreApi: '^1.0.0' },
      plugin: { setup: () => new Promise<void>(() => {}) },
    }
    const clock = createFakeClock()
    const hub = await createMockHub({
      plugins: [hanging],
      clock,
      start: false,
      lifecycleTimeoutMs: 1_000,
    })
    const boot = hub.start().catch((e: unknown) => e)
    await clock.advance(1_000)
    const error = await boot
    expect(CoreError.is(error, 'E_PLUGIN_LIFECYCLE')).toBe(true)
    expect((error as Error).message).toMatch(/hanging.*setup/)
    await hub.stop()
  })

  it('loads a plugin package from its folder, manifest, version and entry', async () => {
    const hub = await createMockHub({
      plugins: [new URL('greeter/', fixtures)],
      config: { greeter: { word: 'Hi' } },
    })
    expect(await hub.call('greeter.greet', { who: 'Ada' })).toBe('Hi, Ada!')
    const info = await hub.plugins.get('greeter')
    expect(info).toMatchObject({
      version: '2.3.4',
      description: 'A plugin package used by the @core/testing tests',
    })
    const invalid = await hub.call('greeter.greet', {}).catch((e: unknown) => e)
    expect(CoreError.is(invalid, 'E_VALIDATION')).toBe(true)
    await hub.stop()
  })

  it("uses a folder's manifest with an implementation given in code", async () => {
    const hub = await createMockHub({
      plugins: [
        {
          packageDir: new URL('greeter/', fixtures).pathname,
          plugin: (ctx: PluginContext<{ word: string }>) => {
            ctx.services.register('greeter.greet', () => `${ctx.config.word} from source`, {
              params: {},
            })
          },
        },
      ],
    })
    expect(await hub.call('greeter.greet')).toBe('Hello from source')
    expect(hub.as('greeter').ctx.version).toBe('2.3.4')
    await hub.stop()
  })

  it('refuses a folder without a corePlugin manifest with E_PLUGIN_MANIFEST naming the file', async () => {
    const error = await createMockHub({ plugins: [new URL('no-manifest/', fixtures)] }).catch(
      (e: unknown) => e,
    )
    expect(CoreError.is(error, 'E_PLUGIN_MANIFEST')).toBe(true)
    expect((error as Error).message).toMatch(/no-manifest[\\/]package\.json has no "corePlugin"/)
    const missing = await createMockHub({ plugins: ['/nonexistent/plugin'] }).catch(
      (e: unknown) => e,
    )
    expect(CoreError.is(missing, 'E_PLUGIN_MANIFEST')).toBe(true)
  })

  it('captures the context of class and setup-function plugins, and follows reloads', async () => {
    class Lamp {
      constructor(readonly ctx: PluginContext) {}
      setup(): void {
        this.ctx.services.register('lamp.name', () => this.ctx.name, { params: {} })
      }
    }
    const hub = await createMockHub({
      plugins: [
        { manifest: { name: 'lamp', coreApi: '^1.0.0' }, plugin: Lamp },
        { manifest: { name: 'fn', coreApi: '^1.0.0' }, plugin: () => undefined },
      ],
    })
    expect(await hub.as('lamp').call('lamp.name')).toBe('lamp')
    const before = hub.as('fn').ctx
    await hub.plugins.reload('fn')
    expect(hub.as('fn').ctx).not.toBe(before)
    expect(await hub.as('fn').ctx.state.set('fn', 'k', 1)).toMatchObject({ value: 1 })
    await hub.stop()
  })

  it('keeps a caller-owned storage open across hubs, so a plugin restart finds its data', async () => {
    const storage = createStorage(createMemoryAdapter())
    const notes: InlinePlugin = {
      manifest: { name: 'notes', coreApi: '^1.0.0' },
      plugin: definePlugin({
        setup(ctx) {
          ctx.services.register(
            'notes.add',
            ({ text }: { text: string }) => ctx.storage.set(text, { text }),
            { params: {} },
          )
          ctx.services.register('notes.count', () => ctx.storage.count(), { params: {} })
        },
      }),
    }
    const first = await createMockHub({ plugins: [notes], storage })
    await first.call('notes.add', { text: 'milk' })
    await first.stop()
    const second = await createMockHub({ plugins: [notes], storage })
    expect(await second.call('notes.count')).toBe(1)
    await second.stop()
    expect(await storage.get('notes', 'milk')).toEqual({ text: 'milk' })
    await storage.close()
  })

  it('passes persistState to the kernel, so a namespace survives a restart on a shared storage', async () => {
    const storage = createStorage(createMemoryAdapter())
    const first = await createMockHub({ plugins: [counter], storage, persistState: ['counter'] })
    await first.call('counter.bump')
    await first.stop()
    const second = await createMockHub({ plugins: [counter], storage, persistState: ['counter'] })
    expect((await second.state.get('counter', 'value'))?.value).toBe(1)
    await second.stop()
    await storage.close()
  })

  it('stops idempotently and cancels pending expectations with E_CANCELLED', async () => {
    const hub = await createMockHub({ plugins: [counter] })
    const pending = hub.expectEvent('never.ever', { timeoutMs: 10_000 }).catch((e: unknown) => e)
    const report = await hub.stop()
    expect(report.stopped).toEqual(['counter'])
    expect(await hub.stop()).toBe(report)
    expect(CoreError.is(await pending, 'E_CANCELLED')).toBe(true)
    expect(hub.events('core.plugin.unloaded')).toHaveLength(1)
  })

  it('clears recorded events, calls and log lines', async () => {
    const hub = await createMockHub({ plugins: [counter] })
    await hub.call('counter.bump')
    hub.clear()
    expect(hub.events()).toEqual([])
    expect(hub.calls()).toEqual([])
    expect(hub.logs()).toEqual([])
    await hub.stop()
  })

  it('settle() waits for fire-and-forget events to reach their subscribers', async () => {
    const seen: number[] = []
    const listener: InlinePlugin = {
      manifest: { name: 'listener', coreApi: '^1.0.0' },
      plugin: {
        setup(ctx) {
          ctx.events.subscribe('listener.ping', async (e) => {
            await Promise.resolve()
            seen.push((e.data as { n: number }).n)
          })
        },
      },
    }
    const hub = await createMockHub({ plugins: [listener] })
    for (let n = 0; n < 5; n++) await hub.publish('listener.ping', { n }, { wait: false })
    await hub.settle()
    expect(seen).toEqual([0, 1, 2, 3, 4])
    await hub.stop()
  })

  it('exports exactly its public surface', () => {
    expect(Object.keys(api).sort()).toMatchInlineSnapshot(`
      [
        "FAKE_CLOCK_EPOCH_MS",
        "createFakeClock",
        "createMockHub",
        "createRecordingLogger",
      ]
    `)
  })
})
