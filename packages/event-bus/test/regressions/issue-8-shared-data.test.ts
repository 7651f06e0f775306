import { type CloudEvent, silentLogger } from '@core/contracts'
import { describe, expect, it } from 'vitest'
import { createEventBus } from '../../src/index.js'

// Issue 8: event payloads were shared by reference, so one subscriber's change reached the others.

describe('issue 8: subscribers share no mutable event data', () => {
  it('should deliver deep-frozen data and a frozen envelope', async () => {
    const bus = createEventBus({ logger: silentLogger })
    const seen: CloudEvent[] = []
    bus.subscribe('lights.#', (event) => {
      seen.push(event)
    })
    const data = { levels: [1, 2], room: { name: 'kitchen' } }
    await bus.publish('lights.changed', data)
    const event = seen[0] as CloudEvent<typeof data>
    expect(Object.isFrozen(event)).toBe(true)
    expect(Object.isFrozen(event.data)).toBe(true)
    expect(Object.isFrozen(event.data?.levels)).toBe(true)
    expect(Object.isFrozen(event.data?.room)).toBe(true)
  })

  it('should not let one subscriber change what the next one gets', async () => {
    const bus = createEventBus({ logger: silentLogger })
    let second: unknown
    bus.subscribe(
      'lights.changed',
      (event) => {
        ;(event.data as { on: boolean }).on = false
      },
      { name: 'first' },
    )
    bus.subscribe(
      'lights.changed',
      (event) => {
        second = (event.data as { on: boolean }).on
      },
      { name: 'second' },
    )
    const report = await bus.publish('lights.changed', { on: true })
    expect(report.failed).toBe(1)
    expect(second).toBe(true)
  })

  it('should give each subscriber its own copy of binary data', async () => {
    const bus = createEventBus({ logger: silentLogger })
    const got: Uint8Array[] = []
    bus.subscribe('cam.frame', (event) => {
      const bytes = (event.data as { bytes: Uint8Array }).bytes
      bytes[0] = 9
      got.push(bytes)
    })
    bus.subscribe('cam.frame', (event) => {
      got.push((event.data as { bytes: Uint8Array }).bytes)
    })
    const bytes = new Uint8Array([1, 2])
    await bus.publish('cam.frame', { bytes })
    expect(got).toHaveLength(2)
    expect(got[0]).not.toBe(got[1])
    expect(got[1]?.[0]).toBe(1)
    expect(bytes[0]).toBe(1)
  })
})
