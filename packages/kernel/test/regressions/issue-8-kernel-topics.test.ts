import { type CloudEvent, CoreError } from '@core/contracts'
import { describe, expect, it } from 'vitest'
import type { PluginContext } from '../../src/index.js'
import { testKernel } from '../helpers.js'

// Issue 8: a plugin allowed to publish under `state.#` forged a state change event whose data
// named another namespace. Topics under `state.` and `core.` are the kernel's alone.

async function forger(): Promise<{ ctx: PluginContext; kernel: ReturnType<typeof testKernel> }> {
  let ctx: PluginContext | undefined
  const kernel = testKernel({
    plugins: [
      {
        manifest: {
          name: 'forger',
          coreApi: '^1.0.0',
          permissions: { events: { publish: ['state.#', 'core.#', '#'] } },
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
  return { ctx: ctx as PluginContext, kernel }
}

async function refusal(work: () => Promise<unknown>): Promise<unknown> {
  return work().then(
    () => undefined,
    (error: unknown) => error,
  )
}

describe('issue 8: plugins cannot publish kernel topics', () => {
  it('should refuse state.* and core.* publishes with E_FORBIDDEN whatever the manifest says', async () => {
    const { ctx, kernel } = await forger()
    const seen: CloudEvent[] = []
    kernel.bus.subscribe('state.#', (event) => {
      seen.push(event)
    })
    for (const topic of ['state.public.lamp', 'state.other.secret', 'core.plugin.started']) {
      const error = await refusal(() =>
        ctx.events.publish(topic, { namespace: 'other', key: 'secret' }),
      )
      expect(CoreError.is(error, 'E_FORBIDDEN'), topic).toBe(true)
      expect((error as CoreError).message).toContain('forger')
    }
    expect(seen).toEqual([])
    expect((await kernel.health()).plugins.forger?.status).toBe('healthy')
  })

  it('should refuse defineEvent under state. and core. with E_FORBIDDEN', () => {
    return forger().then(({ ctx }) => {
      for (const topic of ['state.forger.x', 'core.bus.handler_failed']) {
        let error: unknown
        try {
          ctx.events.defineEvent(topic, {})
        } catch (e) {
          error = e
        }
        expect(CoreError.is(error, 'E_FORBIDDEN'), topic).toBe(true)
      }
    })
  })

  it('should still let the plugin publish its own topics and the kernel publish state changes', async () => {
    const { ctx, kernel } = await forger()
    const seen: string[] = []
    kernel.bus.subscribe('state.forger.#', (event) => {
      seen.push(event.type)
    })
    await expect(ctx.events.publish('forger.thing.changed', {})).resolves.toMatchObject({
      matched: 0,
    })
    await ctx.state.set('forger', 'lamp', 1)
    await expect.poll(() => seen).toEqual(['state.forger.lamp'])
  })
})
