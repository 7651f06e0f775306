import { type Clock, type CloudEvent, CoreError, type Logger } from '@core/contracts'
import { createFakeClock } from '@core/contracts/testing'
import { describe, expect, it } from 'vitest'
import type { InlinePlugin, PluginContext } from '../src/index.js'
import { testKernel } from './helpers.js'

/** Boots a kernel with one inline plugin `me` (given permissions) and `other`, and returns me's ctx. */
async function contextOf(
  permissions: InlinePlugin['manifest']['permissions'] = {},
  extra: { logger?: Logger; clock?: Clock } = {},
) {
  let ctx: PluginContext | undefined
  const kernel = testKernel({
    ...extra,
    plugins: [
      {
        manifest: { name: 'other', coreApi: '^1.0.0' },
        plugin: {
          setup(c) {
            c.services.register(
              'other.echo',
              (params, call) => ({ params, caller: call.meta.caller }),
              { params: {} },
            )
          },
        },
      },
      {
        manifest: { name: 'me', coreApi: '^1.0.0', permissions },
        plugin: {
          setup: (c) => {
            ctx = c
          },
        },
      },
    ],
  })
  await kernel.start()
  return { kernel, ctx: ctx as PluginContext }
}

function forbidden(work: () => unknown): Promise<CoreError> {
  return Promise.resolve()
    .then(work)
    .then(
      () => {
        throw new Error('was allowed')
      },
      (error: unknown) => {
        if (!CoreError.is(error, 'E_FORBIDDEN')) throw error
        return error
      },
    )
}

describe('ctx.events', () => {
  it('should publish in its own namespace with source /plugins/<name>', async () => {
    const { kernel, ctx } = await contextOf()
    const got: CloudEvent[] = []
    kernel.bus.subscribe('me.#', (e) => void got.push(e))
    await ctx.events.publish('me.thing.happened', { n: 1 })
    expect(got[0]).toMatchObject({
      type: 'me.thing.happened',
      source: '/plugins/me',
      data: { n: 1 },
    })
  })

  it('should refuse publishing outside its namespace with E_FORBIDDEN naming plugin, action and resource', async () => {
    const { ctx } = await contextOf()
    const error = await forbidden(() => ctx.events.publish('other.thing', {}))
    expect(error.message).toContain('Plugin "me" may not publish event type "other.thing"')
    expect(error.details).toMatchObject({
      plugin: 'me',
      action: 'events.publish',
      resource: 'other.thing',
    })
  })

  it('should allow subscriptions whose pattern is contained in a permitted pattern, and own state events', async () => {
    const { kernel, ctx } = await contextOf({ events: { subscribe: ['other.#'] } })
    const got: string[] = []
    ctx.events.subscribe('other.*.changed', (e) => void got.push(e.type))
    ctx.events.subscribe('state.me.#', (e) => void got.push(e.type))
    await kernel.bus.publish('other.lamp.changed', {})
    await ctx.state.set('me', 'mood', 'fine')
    await expect.poll(() => got.length, { timeout: 5_000 }).toBe(2)
    expect(got.sort()).toEqual(['other.lamp.changed', 'state.me.mood'])
  })

  it('should refuse a subscription pattern wider than every permitted one', async () => {
    const { ctx } = await contextOf({ events: { subscribe: ['other.*'] } })
    await forbidden(() => ctx.events.subscribe('other.#', () => {}))
    await forbidden(() => ctx.events.subscribe('#', () => {}))
    await forbidden(() => ctx.events.subscribe('*.changed', () => {}))
    await forbidden(() => ctx.events.subscribe('state.#', () => {}))
  })
})

describe('ctx.services', () => {
  it('should register and call in its own namespace and mark calls with the caller', async () => {
    const { ctx } = await contextOf({ services: { call: ['other.*'] } })
    ctx.services.register('me.add', ({ a, b }: { a: number; b: number }) => a + b, { params: {} })
    expect(await ctx.services.call('me.add', { a: 1, b: 2 })).toBe(3)
    expect(await ctx.services.call('other.echo', { x: 1 })).toEqual({
      params: { x: 1 },
      caller: 'me',
    })
  })

  it('should refuse registering or calling another namespace without permission', async () => {
    const { ctx } = await contextOf()
    const reg = await forbidden(() => ctx.services.register('other.fake', () => 1, { params: {} }))
    expect(reg.message).toContain('may not register service "other.fake"')
    const call = await forbidden(() => ctx.services.call('other.echo', {}))
    expect(call.message).toContain('may not call service "other.echo"')
  })
})

describe('ctx.state', () => {
  it('should read another namespace only where state.read covers the key, and filter its listing', async () => {
    const { kernel, ctx } = await contextOf({ state: { read: ['other.public.#'] } })
    await kernel.state.set('other', 'public.name', 'lamp')
    await kernel.state.set('other', 'secret', 'x')
    expect((await ctx.state.get('other', 'public.name'))?.value).toBe('lamp')
    await forbidden(() => ctx.state.get('other', 'secret'))
    expect((await ctx.state.list('other')).map((e) => e.key)).toEqual(['public.name'])
    await forbidden(() => ctx.state.list('third'))
    await forbidden(() => ctx.state.set('other', 'public.name', 'mine'))
  })

  it('should watch another namespace only with a contained key pattern', async () => {
    const { kernel, ctx } = await contextOf({ state: { read: ['other.lamps.#'] } })
    const got: string[] = []
    ctx.state.watch('other', 'lamps.*', (change) => void got.push(change.key))
    await forbidden(() => ctx.state.watch('other', '#', () => {}))
    await kernel.state.set('other', 'lamps.kitchen', true)
    await expect.poll(() => got.length, { timeout: 5_000 }).toBe(1)
    expect(got).toEqual(['lamps.kitchen'])
  })

  it('should write another namespace where state.write allows it', async () => {
    const { kernel, ctx } = await contextOf({ state: { write: ['other.inbox.*'] } })
    await ctx.state.set('other', 'inbox.1', 'hello')
    expect((await kernel.state.get('other', 'inbox.1'))?.value).toBe('hello')
    expect(await ctx.state.delete('other', 'inbox.1')).toBe(true)
  })
})

describe('ctx.storage', () => {
  it('should be bound to the plugin namespace', async () => {
    const { kernel, ctx } = await contextOf()
    await ctx.storage.set('note', { text: 'hi' })
    expect(await kernel.storage.get('me', 'note')).toEqual({ text: 'hi' })
    expect(ctx.storage.namespace).toBe('me')
  })

  it('should reach another namespace through forNamespace only as storage permissions allow', async () => {
    const { kernel, ctx } = await contextOf({ storage: { read: ['other.#'] } })
    await kernel.storage.set('other', 'doc', { a: 1 })
    const other = ctx.storage.forNamespace('other')
    expect(await other.get('doc')).toEqual({ a: 1 })
    expect((await other.list()).items).toHaveLength(1)
    const error = await forbidden(() => other.set('doc', { a: 2 }))
    expect(error.message).toContain('may not write storage document "other.doc"')
    await forbidden(() => ctx.storage.forNamespace('third').get('x'))
  })

  it('should iterate its own documents in key order, and another namespace only with storage.read', async () => {
    const { kernel, ctx } = await contextOf({ storage: { read: ['other.#'] } })
    await ctx.storage.batch([
      { op: 'set', key: 'b', value: 2 },
      { op: 'set', key: 'a', value: 1 },
    ])
    await kernel.storage.set('other', 'doc', { a: 1 })
    await kernel.storage.set('third', 'doc', { a: 1 })
    const keys = async (entries: AsyncIterable<{ key: string }>): Promise<string[]> => {
      const out: string[] = []
      for await (const { key } of entries) out.push(key)
      return out
    }
    expect(await keys(ctx.storage.iterate({ pageSize: 1 }))).toEqual(['a', 'b'])
    expect(await keys(ctx.storage.forNamespace('other').iterate())).toEqual(['doc'])
    await forbidden(() => keys(ctx.storage.forNamespace('third').iterate()))
  })
})

describe('denials', () => {
  it('should log and count every refusal', async () => {
    const warnings: Array<Record<string, unknown>> = []
    const logger: Logger = {
      debug: () => {},
      info: () => {},
      warn: (obj: unknown) =>
        void (typeof obj === 'object' && warnings.push(obj as Record<string, unknown>)),
      error: () => {},
      child: () => logger,
    }
    const { kernel, ctx } = await contextOf({}, { logger })
    await forbidden(() => ctx.events.publish('other.x', {}))
    await forbidden(() => ctx.services.call('other.echo', {}))
    expect((await kernel.plugins.get('me')).denials).toBe(2)
    expect(kernel.stats().denials).toEqual({ me: 2 })
    expect(warnings).toContainEqual(
      expect.objectContaining({ plugin: 'me', action: 'events.publish', resource: 'other.x' }),
    )
  })
})

describe('ctx timers', () => {
  it('should run timeouts and intervals on the kernel clock and clear them', async () => {
    const clock = createFakeClock({ now: 0 })
    const { ctx } = await contextOf({}, { clock })
    const hits: string[] = []
    ctx.setTimeout(() => hits.push('once'), 100)
    const every = ctx.setInterval(() => hits.push('tick'), 40)
    const cancelled = ctx.timers.setTimeout(() => hits.push('never'), 50)
    ctx.clearTimeout(cancelled)
    clock.tick(130)
    expect(hits).toEqual(['tick', 'tick', 'once', 'tick'])
    ctx.clearInterval(every)
    clock.tick(200)
    expect(hits).toHaveLength(4)
  })

  it('should keep running when a timer handler throws', async () => {
    const clock = createFakeClock({ now: 0 })
    const { ctx } = await contextOf({}, { clock })
    let n = 0
    ctx.setInterval(() => {
      n++
      throw new Error('flaky')
    }, 10)
    clock.tick(35)
    expect(n).toBe(3)
  })

  it('should clear every timer on unload and refuse use of the context afterwards', async () => {
    const clock = createFakeClock({ now: 0 })
    const { kernel, ctx } = await contextOf({}, { clock })
    const before = clock.pending()
    ctx.setInterval(() => {}, 10)
    ctx.setTimeout(() => {}, 10_000)
    expect(kernel.stats().resources.timers).toBe(2)
    await kernel.plugins.unload('me')
    expect(kernel.stats().resources.timers).toBe(0)
    expect(clock.pending()).toBe(before)
    expect(() => ctx.setTimeout(() => {}, 1)).toThrowError(/was unloaded/)
    await expect(ctx.events.publish('me.x', {})).rejects.toMatchObject({ code: 'E_UNAVAILABLE' })
  })
})
