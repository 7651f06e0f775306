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

// Issue 8 §1: inbound MQTT messages were put on the bus without waiting (fire and forget), so
// a flood queued without bound behind a slow subscriber. The bridge now counts each message in
// flight until its handlers settle and stops reading from the socket at `maxInFlight`.
describe.skipIf(skipBroker)('issue 8: the MQTT inbound queue is bounded', () => {
  const kernel = createKernel({ logger: silentLogger })
  const prefix = uniquePrefix('core')
  const bridge = createMqttBridge(kernel, {
    url: BROKER_URL,
    prefix,
    logger: silentLogger,
    maxInFlight: 4,
    reconnect: { minDelayMs: 50, maxDelayMs: 500 },
  })
  let sender: RawClient

  beforeAll(async () => {
    requireBroker()
    await kernel.start()
    await bridge.start()
    sender = await rawClient(5)
  })
  afterAll(async () => {
    await sender?.close()
    await bridge.stop()
    await kernel.stop()
  })

  it('holds at most maxInFlight messages behind a slow subscriber, then delivers the rest', async () => {
    const base = `${prefix}-flood`
    let open!: () => void
    const gate = new Promise<void>((resolve) => {
      open = resolve
    })
    const seen: number[] = []
    kernel.bus.subscribe(`mqtt.message.${base}.#`, async (event) => {
      await gate
      seen.push((event.data as { payload: number }).payload)
    })
    await kernel.services.call('mqtt.subscribe', { filter: `${base}/#`, qos: 1 })

    const total = 200
    await Promise.all(
      Array.from({ length: total }, (_, i) => sender.publish(`${base}/n`, String(i), { qos: 1 })),
    )
    await expect.poll(() => bridge.stats().paused > 0, { timeout: 3_000 }).toBe(true)
    expect(bridge.stats().inFlight).toBe(4)
    expect(kernel.bus.stats().queued).toBeLessThanOrEqual(4)
    expect(bridge.stats().received).toBeLessThan(total)

    open()
    await expect.poll(() => seen.length === total, { timeout: 10_000 }).toBe(true)
    expect(seen).toEqual(Array.from({ length: total }, (_, i) => i))
    expect(bridge.stats()).toMatchObject({ inFlight: 0, received: total, dropped: 0 })
  })
})
