import type { CloudEvent } from '@core/contracts'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createEventBus } from '../src/index.js'
import { quiet, rejection, thrown } from './event-bus-helpers.js'
import { gate, settled } from './helpers.js'

describe('publish and subscribe', () => {
  it('should deliver the envelope to every subscription whose pattern matches the topic', async () => {
    const bus = createEventBus(quiet)
    const seen: string[] = []
    bus.subscribe('devices.*.kitchen.#', (e) => {
      seen.push(`kitchen:${e.type}`)
    })
    bus.subscribe('devices.#', (e) => {
      seen.push(`all:${e.type}`)
    })
    bus.subscribe('lights.#', () => {
      seen.push('never')
    })
    const report = await bus.publish('devices.light.kitchen.changed', { on: true })
    expect(seen).toEqual([
      'kitchen:devices.light.kitchen.changed',
      'all:devices.light.kitchen.changed',
    ])
    expect(report).toMatchObject({ matched: 2, delivered: 2, failed: 0, dropped: 0 })
  })

  it('should never run a handler inside the publish call', async () => {
    const bus = createEventBus(quiet)
    let ran = false
    bus.subscribe('a.b', () => {
      ran = true
    })
    const pending = bus.publish('a.b', 1)
    expect(ran).toBe(false)
    await pending
    expect(ran).toBe(true)
  })

  it('should not run a handler inside a publish made by another handler', async () => {
    const bus = createEventBus(quiet)
    const order: string[] = []
    bus.subscribe('first', () => {
      order.push('first:start')
      void bus.publish('second', null)
      order.push('first:end')
    })
    bus.subscribe('second', () => {
      order.push('second')
    })
    await bus.publish('first', null)
    await settled()
    expect(order).toEqual(['first:start', 'first:end', 'second'])
  })

  it('should resolve with an empty report when nothing matches', async () => {
    const bus = createEventBus(quiet)
    const report = await bus.publish('nobody.listens', 1)
    expect(report).toEqual({
      id: expect.any(String),
      matched: 0,
      delivered: 0,
      failed: 0,
      dropped: 0,
    })
    expect(bus.stats().published).toBe(1)
  })

  it('should resolve only after every matching handler has settled', async () => {
    const bus = createEventBus(quiet)
    const slow = gate()
    let done = false
    bus.subscribe('a.b', async () => {
      await slow.promise
      done = true
    })
    bus.subscribe('a.*', () => {})
    let resolved = false
    const pending = bus.publish('a.b', 1).then((r) => {
      resolved = true
      return r
    })
    await settled()
    expect(resolved).toBe(false)
    slow.open()
    const report = await pending
    expect(done).toBe(true)
    expect(report).toMatchObject({ matched: 2, delivered: 2 })
  })

  it('should resolve at once with wait: false, counting nothing as delivered yet', async () => {
    const bus = createEventBus(quiet)
    const slow = gate()
    let got = 0
    bus.subscribe('a.b', async () => {
      await slow.promise
      got++
    })
    const report = await bus.publish('a.b', 1, { wait: false })
    expect(report).toEqual({
      id: expect.any(String),
      matched: 1,
      delivered: 0,
      failed: 0,
      dropped: 0,
    })
    expect(got).toBe(0)
    slow.open()
    await settled()
    expect(got).toBe(1)
    expect(bus.stats()).toMatchObject({ delivered: 1, queued: 0 })
  })

  it('should pass data by reference, without copying it (as mitt and emittery do)', async () => {
    const bus = createEventBus(quiet)
    const data = { on: true }
    const received: unknown[] = []
    bus.subscribe('a.b', (e) => {
      received.push(e.data)
    })
    bus.subscribe('a.*', (e) => {
      received.push(e.data)
    })
    await bus.publish('a.b', data)
    expect(received[0]).toBe(data)
    expect(received[1]).toBe(data)
  })
})

describe('per-subscription order', () => {
  it('should give each subscription its events in publish order, one at a time', async () => {
    const bus = createEventBus(quiet)
    const seen: number[] = []
    let running = 0
    let overlap = false
    bus.subscribe('a.#', async (e: CloudEvent<number>) => {
      running++
      if (running > 1) overlap = true
      await new Promise((r) => setImmediate(r))
      seen.push(e.data)
      running--
    })
    await Promise.all([1, 2, 3, 4, 5].map((n) => bus.publish(`a.${n}`, n)))
    expect(seen).toEqual([1, 2, 3, 4, 5])
    expect(overlap).toBe(false)
  })

  it('should keep per-subscription FIFO under random interleavings of publishes and handler completions (property)', async () => {
    const patterns = ['a.#', 'a.*', '*.b', '#', 'a.b', '#.c']
    const topics = ['a.b', 'a.c', 'x.b', 'a.b.c', 'x.c']
    const matches: Record<string, (t: string) => boolean> = {
      'a.#': (t) => t.startsWith('a.'),
      'a.*': (t) => /^a\.[^.]+$/.test(t),
      '*.b': (t) => /^[^.]+\.b$/.test(t),
      '#': () => true,
      'a.b': (t) => t === 'a.b',
      '#.c': (t) => t.endsWith('.c'),
    }
    await fc.assert(
      fc.asyncProperty(
        fc.scheduler(),
        fc.array(fc.constantFrom(...topics), { minLength: 1, maxLength: 25 }),
        fc.array(fc.nat({ max: 20 }), { minLength: patterns.length, maxLength: patterns.length }),
        async (s, sequence, maxQueue) => {
          const bus = createEventBus(quiet)
          const seen: Record<string, number[]> = {}
          for (const pattern of patterns) {
            seen[pattern] = []
            bus.subscribe<{ seq: number }>(
              pattern,
              async (e) => {
                await s.schedule(Promise.resolve(), `${pattern} handles ${e.data.seq}`)
                seen[pattern]?.push(e.data.seq)
              },
              // large enough never to drop here: order is what is checked
              { maxQueue: 100 + (maxQueue[0] ?? 0) },
            )
          }
          const published: { topic: string; seq: number }[] = []
          const all = Promise.all(
            sequence.map((topic, i) =>
              s.schedule(Promise.resolve(), `publish ${i}`).then(() => {
                published.push({ topic, seq: i })
                return bus.publish(topic, { seq: i })
              }),
            ),
          )
          await s.waitFor(all)
          for (const pattern of patterns) {
            const expected = published.filter((p) => matches[pattern]?.(p.topic)).map((p) => p.seq)
            expect(seen[pattern]).toEqual(expected)
          }
        },
      ),
      { numRuns: 150 },
    )
  })
})

describe('unsubscribe', () => {
  it('should stop deliveries and be harmless when called twice', async () => {
    const bus = createEventBus(quiet)
    let seen = 0
    const off = bus.subscribe('a.b', () => {
      seen++
    })
    await bus.publish('a.b', 1)
    off()
    off()
    const report = await bus.publish('a.b', 2)
    expect(seen).toBe(1)
    expect(report.matched).toBe(0)
    expect(bus.stats().subscriptions).toBe(0)
  })

  it('should discard events still queued to a removed subscription and let the running one finish', async () => {
    const bus = createEventBus(quiet)
    const open = gate()
    const seen: number[] = []
    const off = bus.subscribe('a.b', async (e: CloudEvent<number>) => {
      await open.promise
      seen.push(e.data)
    })
    const pending = [1, 2, 3].map((n) => bus.publish('a.b', n))
    await settled() // event 1 is being handled
    off()
    open.open()
    const reports = await Promise.all(pending)
    expect(seen).toEqual([1])
    expect(reports.map((r) => [r.delivered, r.dropped])).toEqual([
      [1, 0],
      [0, 1],
      [0, 1],
    ])
    expect(bus.stats()).toMatchObject({ discarded: 2, queued: 0, dropped: 0 })
  })

  it('should be Disposable, so that `using` removes the subscription', async () => {
    const bus = createEventBus(quiet)
    let seen = 0
    {
      using _sub = bus.subscribe('a.b', () => {
        seen++
      })
      await bus.publish('a.b', 1)
    }
    await bus.publish('a.b', 2)
    expect(seen).toBe(1)
    expect(bus.stats().subscriptions).toBe(0)
  })

  it('should remove the subscription when its signal aborts, and subscribe nothing on an aborted signal', async () => {
    const bus = createEventBus(quiet)
    const controller = new AbortController()
    let seen = 0
    bus.subscribe(
      'a.b',
      () => {
        seen++
      },
      { signal: controller.signal },
    )
    await bus.publish('a.b', 1)
    controller.abort()
    await bus.publish('a.b', 2)
    expect(seen).toBe(1)
    expect(bus.stats().subscriptions).toBe(0)
    const off = bus.subscribe(
      'a.b',
      () => {
        seen++
      },
      { signal: AbortSignal.abort() },
    )
    expect(bus.stats().subscriptions).toBe(0)
    off()
    expect(
      thrown(() => bus.subscribe('a..b', () => {}, { signal: AbortSignal.abort() })).code,
    ).toBe('E_VALIDATION')
  })

  it('should remove a schema with the undo of defineEvent', async () => {
    const bus = createEventBus(quiet)
    const undo = bus.defineEvent('a.b', { type: 'number' })
    expect((await rejection(bus.publish('a.b', 'x'))).code).toBe('E_VALIDATION')
    undo()
    undo()
    expect((await bus.publish('a.b', 'x')).matched).toBe(0)
    bus.defineEvent('a.b', { type: 'string' })
    expect((await bus.publish('a.b', 'x')).matched).toBe(0)
  })
})
