import { CoreError } from '@core/contracts'
import type { InlinePlugin, PluginContext } from '@core/kernel'
import { describe, expect, it } from 'vitest'
import { createMockHub } from '../../src/index.js'

// Issue 8: the mock hub must give plugins the guarantees of the real kernel: kernel-only
// topics, frozen events, params and results, plain handler contexts.

const forger: InlinePlugin = {
  manifest: {
    name: 'forger',
    coreApi: '^1.0.0',
    permissions: { events: { publish: ['#'] }, services: { call: ['#'] } },
  },
  plugin: { setup() {} },
}

describe('issue 8: the mock hub holds plugins to the kernel guarantees', () => {
  it('should refuse a plugin publishing under state. or core. with E_FORBIDDEN', async () => {
    const hub = await createMockHub({ plugins: [forger] })
    for (const topic of ['state.other.key', 'core.plugin.failed']) {
      const error = await hub
        .as('forger')
        .publish(topic, { namespace: 'other' })
        .then(
          () => undefined,
          (e: unknown) => e,
        )
      expect(CoreError.is(error, 'E_FORBIDDEN'), topic).toBe(true)
    }
    expect(hub.events('state.#')).toEqual([])
    await hub.stop()
  })

  it('should hand stubs and plugins frozen params, results, events and contexts', async () => {
    const hub = await createMockHub({
      plugins: [forger],
      services: { 'lights.set': (params: unknown) => ({ got: params }) },
    })
    const ctx: PluginContext = hub.as('forger').ctx
    expect(Object.isFrozen(ctx)).toBe(true)
    expect(Object.isFrozen(ctx.storage)).toBe(true)
    const params = { on: true, list: [1] }
    const result = (await hub.as('forger').call('lights.set', params)) as { got: unknown }
    expect(Object.isFrozen(params.list)).toBe(true)
    expect(Object.isFrozen(result)).toBe(true)
    await hub.as('forger').publish('forger.changed', { list: [1] })
    const event = await hub.expectEvent<{ list: number[] }>('forger.changed')
    expect(Object.isFrozen(event)).toBe(true)
    expect(Object.isFrozen(event.data?.list)).toBe(true)
    await hub.stop()
  })
})
