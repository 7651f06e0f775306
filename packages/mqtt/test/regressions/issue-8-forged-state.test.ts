import { silentLogger } from '@core/contracts'
import { createKernel } from '@core/kernel'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createMqttBridge } from '../../src/index.js'
import {
  BROKER_URL,
  type RawClient,
  rawClient,
  requireBroker,
  skipBroker,
  uniquePrefix,
} from '../broker.js'

// Issue 8 §1: a `state.*` event whose data named another namespace made the state mirror erase
// that namespace's retained topic and then ignore its later real updates. The mirror now takes
// namespace and key from the event type and the value from the state engine.
describe.skipIf(skipBroker)(
  'issue 8: the MQTT state mirror ignores forged state event data',
  () => {
    const kernel = createKernel({ logger: silentLogger })
    const prefix = uniquePrefix('core')
    const bridge = createMqttBridge(kernel, {
      url: BROKER_URL,
      prefix,
      logger: silentLogger,
      reconnect: { minDelayMs: 50, maxDelayMs: 500 },
    })
    let watcher: RawClient

    beforeAll(async () => {
      requireBroker()
      await kernel.start()
      await bridge.start()
      watcher = await rawClient(5)
      await watcher.subscribe(`${prefix}/state/#`, 1)
    })
    afterAll(async () => {
      await watcher?.close()
      await bridge.stop()
      await kernel.stop()
    })

    it('neither clears the named key nor ignores its later updates', async () => {
      const victim = `${prefix}/state/victim/lamp`
      await kernel.state.set('victim', 'lamp', { on: true })
      await watcher.next((m) => m.topic === victim && m.text !== '')

      // What a holder of events.publish on state.public.# could send: its own topic, another
      // namespace in the data, a revision from the future.
      await kernel.bus.publish('state.public.x', {
        namespace: 'victim',
        key: 'lamp',
        reason: 'delete',
        revision: 1_000_000_000,
      })
      await kernel.state.set('victim', 'lamp', { on: false })

      const update = await watcher.next((m) => m.topic === victim && m.text.includes('false'))
      expect(JSON.parse(update.text)).toMatchObject({ value: { on: false }, revision: 2 })
      // Its own topic is brought in line with the state engine (no such key: cleared) …
      await watcher.next((m) => m.topic === `${prefix}/state/public/x` && m.text === '')
      // … and the victim's retained message was never erased.
      expect(watcher.messages.filter((m) => m.topic === victim).map((m) => m.text === '')).toEqual([
        false,
        false,
      ])
    })
  },
)
