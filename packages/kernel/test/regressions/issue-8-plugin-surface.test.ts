import type { CloudEvent } from '@core/contracts'
import type { ServiceContext } from '@core/service-registry'
import { describe, expect, it } from 'vitest'
import type { Kernel, PluginContext } from '../../src/index.js'
import { testKernel } from '../helpers.js'

// Issue 8: everything the kernel hands a plugin must be a plain frozen object with nothing of
// the kernel behind it. `ctx.storage` had a Proxy of the internal storage as its prototype, the
// manifest's inner arrays were mutable, and handler contexts were the registry's own objects.

/** Standard objects where the walk stops: they are the language's, not the kernel's. */
const INTRINSICS = new Set<unknown>([
  Object.prototype,
  Function.prototype,
  Object.getPrototypeOf(async () => {}),
  Array.prototype,
  AbortSignal.prototype,
  EventTarget.prototype,
])

interface Walk {
  /** Reachable objects (not functions, not intrinsics, not AbortSignals). */
  objects: Set<object>
  /** Where each was found, for a readable failure. */
  paths: Map<object, string>
}

/** Every object reachable from `root` through own properties, accessors and prototypes. */
function walk(root: unknown): Walk {
  const objects = new Set<object>()
  const paths = new Map<object, string>()
  const seen = new Set<unknown>()
  const stack: Array<[unknown, string]> = [[root, '']]
  while (stack.length > 0) {
    const [value, path] = stack.pop() as [unknown, string]
    if ((typeof value !== 'object' && typeof value !== 'function') || value === null) continue
    if (seen.has(value) || INTRINSICS.has(value)) continue
    seen.add(value)
    if (value instanceof AbortSignal) continue
    stack.push([Object.getPrototypeOf(value), `${path}.__proto__`])
    if (typeof value === 'function') continue
    objects.add(value)
    paths.set(value, path)
    for (const key of Reflect.ownKeys(value)) {
      const d = Object.getOwnPropertyDescriptor(value, key) as PropertyDescriptor
      const at = `${path}.${String(key)}`
      stack.push([d.value, at], [d.get, `${at}(get)`], [d.set, `${at}(set)`])
    }
  }
  return { objects, paths }
}

/** Asserts every reachable object is frozen and none is one of the kernel's own objects. */
function expectSealed(root: unknown, internals: readonly unknown[], what: string): void {
  const { objects, paths } = walk(root)
  const thawed = [...objects].filter((o) => !Object.isFrozen(o)).map((o) => paths.get(o))
  expect(thawed, `${what}: mutable objects`).toEqual([])
  for (const internal of internals) {
    expect(objects.has(internal as object), `${what} reaches a kernel object`).toBe(false)
  }
}

function internalsOf(kernel: Kernel): unknown[] {
  return [kernel.bus, kernel.services, kernel.state, kernel.storage]
}

async function boot(): Promise<{
  kernel: Kernel
  ctx: PluginContext
  handlerContexts: ServiceContext[]
}> {
  let ctx: PluginContext | undefined
  const handlerContexts: ServiceContext[] = []
  const kernel = testKernel({
    config: { me: { nested: { list: [1, 2] } } },
    plugins: [
      {
        manifest: { name: 'other', coreApi: '^1.0.0' },
        plugin: {
          setup(c) {
            c.services.register(
              'other.echo',
              (params, context) => {
                handlerContexts.push(context)
                return { params, at: [1] }
              },
              { params: {} },
            )
          },
        },
      },
      {
        manifest: {
          name: 'me',
          coreApi: '^1.0.0',
          permissions: {
            services: { call: ['other.#'] },
            events: { publish: ['me.#'], subscribe: ['#'] },
          },
          config: {
            type: 'object',
            properties: { nested: { type: 'object' } },
          },
        },
        plugin: {
          setup: (c) => {
            ctx = c
          },
        },
      },
    ],
  })
  await kernel.start()
  return { kernel, ctx: ctx as PluginContext, handlerContexts }
}

describe('issue 8: what the kernel hands a plugin is plain, frozen and opaque', () => {
  it('should reach no kernel object and nothing mutable from ctx', async () => {
    const { kernel, ctx } = await boot()
    expectSealed(ctx, internalsOf(kernel), 'ctx')
    expect(Object.getPrototypeOf(ctx.storage)).toBe(Object.prototype)
    const publish = ctx.manifest.permissions?.events?.publish as string[]
    expect(Object.isFrozen(publish)).toBe(true)
    expect(() => {
      publish.push('#')
    }).toThrow(TypeError)
    expect(Object.isFrozen((ctx.config as { nested: { list: number[] } }).nested.list)).toBe(true)
    expectSealed(ctx.storage.forNamespace('me'), internalsOf(kernel), 'forNamespace()')
    expectSealed(ctx.logger.child({ a: 1 }), internalsOf(kernel), 'logger.child()')
  })

  it('should hand a storage transaction a plain frozen handle', async () => {
    const { kernel, ctx } = await boot()
    let handle: unknown
    await ctx.storage.transaction(async (tx) => {
      handle = tx
      await tx.set('k', { v: 1 })
    })
    expectSealed(handle, internalsOf(kernel), 'transaction handle')
    await expect(ctx.storage.get('k')).resolves.toEqual({ v: 1 })
  })

  it('should deliver frozen events, results, service lists and handler contexts', async () => {
    const { kernel, ctx, handlerContexts } = await boot()
    const events: CloudEvent[] = []
    ctx.events.subscribe('me.#', (event) => {
      events.push(event)
    })
    await ctx.events.publish('me.thing.changed', { list: [1] })
    const result = await ctx.services.call('other.echo', { a: { b: 1 } })
    const list = ctx.services.list()
    expect(events).toHaveLength(1)
    expectSealed(events[0], internalsOf(kernel), 'event')
    expectSealed(result, internalsOf(kernel), 'call result')
    expectSealed(list, internalsOf(kernel), 'services.list()')
    expect(handlerContexts).toHaveLength(1)
    expectSealed(handlerContexts[0], internalsOf(kernel), 'handler context')
    expect(handlerContexts[0]?.caller).toBe('me')
  })

  it('should hand frozen state entries', async () => {
    const { kernel, ctx } = await boot()
    await ctx.state.set('me', 'lamp', { on: true, levels: [1] })
    const entry = await ctx.state.get('me', 'lamp')
    expect(entry?.value).toEqual({ on: true, levels: [1] })
    expectSealed(entry, internalsOf(kernel), 'state entry')
    expectSealed(await ctx.state.list('me'), internalsOf(kernel), 'state list')
  })
})
