import { silentLogger } from '@core/contracts'
import { createEventBus } from '@core/event-bus'
import { describe, expect, it } from 'vitest'
import { createStateEngine } from '../../src/index.js'

// Issue 8: a consumer trusted the namespace and key named in a state event's data. Watches now
// read them from the event type and drop an event whose data disagrees.

describe('issue 8: watches derive namespace and key from the event type', () => {
  it('should drop a state event whose data names another key, and deliver real changes', async () => {
    const bus = createEventBus({ logger: silentLogger })
    const state = createStateEngine({ bus, logger: silentLogger })
    const seen: string[] = []
    state.watch('public', '#', (change) => {
      seen.push(`${change.namespace}.${change.key}`)
    })
    await bus.publish('state.public.lamp', {
      namespace: 'other',
      key: 'secret',
      value: null,
      previous: 1,
      revision: 9,
      reason: 'delete',
    })
    await state.set('public', 'lamp', 1)
    await expect.poll(() => seen).toEqual(['public.lamp'])
    await state.close()
  })
})
