import {
  type CloudEvent,
  CloudEventSchema,
  CoreError,
  isTraceparent,
  type SerializedCoreError,
  silentLogger,
} from '@core/contracts'
import { Ajv2020 } from 'ajv/dist/2020.js'
import ajvFormats from 'ajv-formats'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createEventBus, HANDLER_FAILED_EVENT, type HandlerFailedData } from '../src/index.js'
import { captureLogger, fixedClock, gate, settled } from './helpers.js'

const quiet = { logger: silentLogger }

async function rejection(promise: Promise<unknown>): Promise<CoreError> {
  try {
    await promise
  } catch (error) {
    if (CoreError.is(error)) return error
    throw error
  }
  throw new Error('expected a rejection')
}

function thrown(fn: () => unknown): CoreError {
  try {
    fn()
  } catch (error) {
    if (CoreError.is(error)) return error
    throw error
  }
  throw new Error('expected a throw')
}

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

describe('failure isolation', () => {
  it('should count, log and isolate a throwing or rejecting handler while the others still run', async () => {
    const logger = captureLogger()
    const bus = createEventBus({ logger })
    const got: string[] = []
    bus.subscribe(
      'a.b',
      () => {
        throw new Error('sync boom')
      },
      { name: 'thrower' },
    )
    bus.subscribe(
      'a.b',
      async () => {
        throw new Error('async boom')
      },
      { name: 'rejecter' },
    )
    bus.subscribe('a.b', (e) => {
      got.push(e.id)
    })
    const report = await bus.publish('a.b', 1)
    expect(report).toMatchObject({ matched: 3, delivered: 1, failed: 2, dropped: 0 })
    expect(got).toEqual([report.id])
    expect(bus.stats()).toMatchObject({ delivered: 1, failed: 2 })
    const errors = logger.lines.filter((l) => l.level === 'error')
    expect(errors.map((l) => l.fields.subscription)).toEqual(['thrower', 'rejecter'])
    expect(errors[0]?.msg).toContain('sync boom')
    expect(CoreError.is(errors[0]?.fields.err, 'E_HANDLER')).toBe(true)
  })

  it('should go on with the next event of a subscription whose handler failed', async () => {
    const bus = createEventBus(quiet)
    const seen: number[] = []
    bus.subscribe('a.b', (e: CloudEvent<number>) => {
      if (e.data === 1) throw new Error('first fails')
      seen.push(e.data)
    })
    const reports = await Promise.all([bus.publish('a.b', 1), bus.publish('a.b', 2)])
    expect(reports.map((r) => [r.delivered, r.failed])).toEqual([
      [0, 1],
      [1, 0],
    ])
    expect(seen).toEqual([2])
  })

  it('should not let a slow handler hold back other subscriptions', async () => {
    const bus = createEventBus(quiet)
    const slow = gate()
    const fast: number[] = []
    bus.subscribe('a.b', () => slow.promise)
    bus.subscribe('a.b', (e: CloudEvent<number>) => {
      fast.push(e.data)
    })
    await bus.publish('a.b', 1, { wait: false })
    await bus.publish('a.b', 2, { wait: false })
    await settled()
    expect(fast).toEqual([1, 2])
    expect(bus.stats().queued).toBe(1) // event 2 waits for the slow subscription
    slow.open()
    await settled()
    expect(bus.stats()).toMatchObject({ delivered: 4, queued: 0 })
  })

  it('should tolerate a handler that returns a thenable settling twice or throwing from then()', async () => {
    const bus = createEventBus(quiet)
    bus.subscribe(
      'a.b',
      () =>
        ({
          // biome-ignore lint/suspicious/noThenProperty: a misbehaving thenable on purpose
          then(ok: () => void, fail: (e: unknown) => void) {
            ok()
            fail(new Error('late'))
            ok()
          },
        }) as unknown as Promise<void>,
    )
    bus.subscribe(
      'a.c',
      () =>
        ({
          // biome-ignore lint/suspicious/noThenProperty: a misbehaving thenable on purpose
          then() {
            throw new Error('then throws')
          },
        }) as unknown as Promise<void>,
    )
    expect(await bus.publish('a.b', 1)).toMatchObject({ delivered: 1, failed: 0 })
    expect(await bus.publish('a.c', 1)).toMatchObject({ delivered: 0, failed: 1 })
    expect(await bus.publish('a.b', 2)).toMatchObject({ delivered: 1, failed: 0 })
  })

  it('should re-publish a failure as core.bus.handler_failed with the E_HANDLER error', async () => {
    const bus = createEventBus({ ...quiet, source: '/hub' })
    const failures: CloudEvent<HandlerFailedData>[] = []
    bus.subscribe<HandlerFailedData>(HANDLER_FAILED_EVENT, (e) => {
      failures.push(e)
    })
    bus.subscribe(
      'devices.#',
      () => {
        throw new TypeError('bad light')
      },
      { name: 'lights-plugin' },
    )
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'
    const report = await bus.publish(
      'devices.light.changed',
      { on: true },
      { source: '/plugins/zigbee', traceparent },
    )
    await settled()
    expect(failures).toHaveLength(1)
    const failure = failures[0] as CloudEvent<HandlerFailedData>
    expect(failure.type).toBe('core.bus.handler_failed')
    expect(failure.source).toBe('/hub')
    expect(failure.subject).toBe('lights-plugin')
    expect(failure.traceparent).toBe(traceparent)
    expect(failure.data).toMatchObject({
      subscription: 'lights-plugin',
      pattern: 'devices.#',
      event: { id: report.id, type: 'devices.light.changed', source: '/plugins/zigbee' },
      error: {
        name: 'CoreError',
        code: 'E_HANDLER',
        cause: { name: 'TypeError', message: 'bad light' },
      },
    })
    const error = CoreError.fromJSON(failure.data.error as SerializedCoreError)
    expect(error.code).toBe('E_HANDLER')
    expect(JSON.parse(JSON.stringify(failure))).toEqual(failure) // plain JSON, ready for a broker
  })

  it('should log, not re-publish, a failure of a core.bus.handler_failed handler (no recursion)', async () => {
    const logger = captureLogger()
    const bus = createEventBus({ logger })
    let calls = 0
    bus.subscribe('#', () => {
      calls++
      throw new Error('always fails')
    })
    await bus.publish('a.b', 1)
    await settled()
    await settled()
    // a.b fails → one handler_failed event → its handler fails too → logged only
    expect(calls).toBe(2)
    expect(bus.stats()).toMatchObject({ published: 2, failed: 2 })
    expect(logger.lines.filter((l) => l.level === 'error')).toHaveLength(2)
  })

  it('should keep delivering when the logger itself throws', async () => {
    const broken = {
      ...silentLogger,
      error: () => {
        throw new Error('logger down')
      },
      child: () => broken,
    }
    const bus = createEventBus({ logger: broken })
    let seen = 0
    bus.subscribe('a.b', () => {
      seen++
      if (seen === 1) throw new Error('boom')
    })
    await bus.publish('a.b', 1)
    await bus.publish('a.b', 2)
    expect(seen).toBe(2)
  })
})

describe('bounded queues', () => {
  it('should drop the newest events for a full drop-newest subscription, count and log them', async () => {
    const logger = captureLogger()
    const bus = createEventBus({ logger })
    const open = gate()
    const seen: number[] = []
    bus.subscribe(
      'a.b',
      async (e: CloudEvent<number>) => {
        await open.promise
        seen.push(e.data)
      },
      { maxQueue: 2, name: 'tiny' },
    )
    const pending = [1, 2, 3, 4].map((n) => bus.publish('a.b', n))
    open.open()
    const reports = await Promise.all(pending)
    expect(reports.map((r) => r.dropped)).toEqual([0, 0, 1, 1])
    expect(reports.map((r) => r.delivered)).toEqual([1, 1, 0, 0])
    expect(seen).toEqual([1, 2])
    expect(bus.stats()).toMatchObject({ dropped: 2, delivered: 2 })
    const warnings = logger.lines.filter((l) => l.level === 'warn')
    expect(warnings).toHaveLength(2) // the start of the overflow, then the catch-up with the total
    expect(warnings[0]?.fields).toMatchObject({
      subscription: 'tiny',
      overflow: 'drop-newest',
      maxQueue: 2,
    })
    expect(warnings[1]?.fields).toMatchObject({ subscription: 'tiny', dropped: 2 })
  })

  it('should drop the oldest waiting events for a full drop-oldest subscription', async () => {
    const bus = createEventBus(quiet)
    const open = gate()
    const seen: number[] = []
    bus.subscribe(
      'a.b',
      async (e: CloudEvent<number>) => {
        await open.promise
        seen.push(e.data)
      },
      { maxQueue: 2, overflow: 'drop-oldest' },
    )
    const pending = [1, 2, 3, 4].map((n) => bus.publish('a.b', n))
    open.open()
    const reports = await Promise.all(pending)
    expect(reports.map((r) => r.dropped)).toEqual([1, 1, 0, 0])
    expect(seen).toEqual([3, 4])
    expect(bus.stats().dropped).toBe(2)
  })

  it('should not count the event being handled against maxQueue', async () => {
    const bus = createEventBus(quiet)
    const open = gate()
    const seen: number[] = []
    bus.subscribe(
      'a.b',
      async (e: CloudEvent<number>) => {
        await open.promise
        seen.push(e.data)
      },
      { maxQueue: 1 },
    )
    const first = bus.publish('a.b', 1)
    await settled() // event 1 is now being handled, the queue is empty
    const rest = [2, 3].map((n) => bus.publish('a.b', n))
    open.open()
    const reports = await Promise.all([first, ...rest])
    expect(reports.map((r) => r.dropped)).toEqual([0, 0, 1])
    expect(seen).toEqual([1, 2])
  })

  it('should apply the bus-wide default maxQueue', async () => {
    const bus = createEventBus({ ...quiet, maxQueue: 1 })
    const open = gate()
    bus.subscribe('a.b', () => open.promise)
    const reports = [bus.publish('a.b', 1), bus.publish('a.b', 2)]
    open.open()
    expect((await Promise.all(reports)).map((r) => r.dropped)).toEqual([0, 1])
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

describe('validation', () => {
  it('should reject a malformed topic with E_VALIDATION and deliver nothing', async () => {
    const bus = createEventBus(quiet)
    let seen = 0
    bus.subscribe('#', () => {
      seen++
    })
    const tooManyWords = Array.from({ length: 33 }, () => 'w').join('.')
    for (const bad of [
      '',
      'a..b',
      '.a',
      'a.',
      'a.*',
      'a.#',
      'a b',
      'ünïcode',
      'x'.repeat(256),
      tooManyWords,
      7,
    ]) {
      const error = await rejection(bus.publish(bad as string, 1))
      expect([bad, error.code]).toEqual([bad, 'E_VALIDATION'])
    }
    await settled()
    expect(seen).toBe(0)
    expect(bus.stats().published).toBe(0)
  })

  it('should throw E_VALIDATION for a malformed pattern or subscribe option', () => {
    const bus = createEventBus(quiet)
    for (const bad of ['', 'a..b', 'a.#b', 'a.b*', '**', 'a b', '#.a.#.b.#.c.#.d.#']) {
      expect([bad, thrown(() => bus.subscribe(bad, () => {})).code]).toEqual([bad, 'E_VALIDATION'])
    }
    const handler = (): void => {}
    expect(thrown(() => bus.subscribe('a', 'nope' as unknown as typeof handler)).code).toBe(
      'E_VALIDATION',
    )
    for (const options of [
      { maxQueue: 0 },
      { maxQueue: 1.5 },
      { overflow: 'drop-all' },
      { name: '' },
    ]) {
      expect(thrown(() => bus.subscribe('a', handler, options as never)).code).toBe('E_VALIDATION')
    }
    expect(bus.stats().subscriptions).toBe(0)
  })

  it('should reject malformed publish options with E_VALIDATION', async () => {
    const bus = createEventBus(quiet)
    for (const options of [
      { traceparent: 'not-a-traceparent' },
      { traceparent: '00-00000000000000000000000000000000-b7ad6b7169203331-01' },
      { source: '' },
      { source: 'has space' },
      { id: '' },
      { subject: '' },
      { time: 'yesterday' },
      { time: '2025-13-45T99:00:00Z' },
      { wait: 'no' },
    ]) {
      const error = await rejection(bus.publish('a.b', 1, options as never))
      expect([options, error.code]).toEqual([options, 'E_VALIDATION'])
    }
  })

  it('should refuse bad bus options with E_VALIDATION', () => {
    expect(thrown(() => createEventBus({ source: '' })).code).toBe('E_VALIDATION')
    expect(thrown(() => createEventBus({ maxQueue: 0 })).code).toBe('E_VALIDATION')
  })

  it('should reject data failing the type schema with Ajv paths in details, delivering nothing', async () => {
    const bus = createEventBus(quiet)
    let seen = 0
    bus.subscribe('lights.#', () => {
      seen++
    })
    bus.defineEvent('lights.changed', {
      type: 'object',
      properties: {
        on: { type: 'boolean' },
        level: { type: 'integer', minimum: 0, maximum: 100 },
        at: { type: 'string', format: 'date-time' },
      },
      required: ['on'],
      additionalProperties: false,
    })
    const error = await rejection(
      bus.publish('lights.changed', { level: 150, at: 'noon', extra: 1 }),
    )
    expect(error.code).toBe('E_VALIDATION')
    const paths = ((error.details?.errors ?? []) as { path: string; keyword: string }[]).map(
      (e) => `${e.path} ${e.keyword}`,
    )
    expect(paths.sort()).toEqual([
      '/ additionalProperties',
      '/at format',
      '/level maximum',
      '/on required',
    ])
    expect(error.details?.type).toBe('lights.changed')
    expect(error.message).toContain('lights.changed')
    await settled()
    expect(seen).toBe(0)
    expect(
      await bus.publish('lights.changed', { on: true, level: 5, at: '2025-01-01T00:00:00Z' }),
    ).toMatchObject({
      delivered: 1,
    })
  })

  it('should refuse a second schema for one type with E_CONFLICT and a bad schema with E_VALIDATION', () => {
    const bus = createEventBus(quiet)
    bus.defineEvent('a.b', { type: 'object' })
    expect(thrown(() => bus.defineEvent('a.b', { type: 'object' })).code).toBe('E_CONFLICT')
    expect(thrown(() => bus.defineEvent('a.c', { type: 'no-such-type' })).code).toBe('E_VALIDATION')
    expect(thrown(() => bus.defineEvent('a.*', { type: 'object' })).code).toBe('E_VALIDATION')
    expect(thrown(() => bus.defineEvent('a.d', null as never)).code).toBe('E_VALIDATION')
  })
})

describe('envelope (CloudEvents 1.0)', () => {
  const ajv = new Ajv2020({ allErrors: true, strict: false })
  ajvFormats.default(ajv)
  const validateEnvelope = ajv.compile(CloudEventSchema)

  it('should build a well-formed CloudEvents 1.0 envelope with every required attribute', async () => {
    const clock = fixedClock(Date.UTC(2025, 0, 31, 12, 0, 0, 123))
    const bus = createEventBus({ ...quiet, clock, source: '/plugins/lights' })
    const events: CloudEvent[] = []
    bus.subscribe('lights.#', (e) => {
      events.push(e)
    })
    const report = await bus.publish('lights.kitchen.changed', { on: true })
    const event = events[0] as CloudEvent
    for (const attribute of ['id', 'source', 'specversion', 'type'])
      expect(event).toHaveProperty(attribute)
    expect(event).toEqual({
      specversion: '1.0',
      id: report.id,
      source: '/plugins/lights',
      type: 'lights.kitchen.changed',
      time: '2025-01-31T12:00:00.123Z',
      datacontenttype: 'application/json',
      data: { on: true },
    })
    expect(event.id).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    )
    expect(validateEnvelope(event)).toBe(true)
  })

  it('should carry source, subject, id, time and traceparent given to publish', async () => {
    const bus = createEventBus(quiet)
    const events: CloudEvent[] = []
    bus.subscribe('#', (e) => {
      events.push(e)
    })
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'
    await bus.publish('a.b', null, {
      source: '/plugins/x',
      subject: 'kitchen',
      id: 'evt-1',
      time: '2025-02-01T10:00:00+01:00',
      traceparent,
    })
    const event = events[0] as CloudEvent
    expect(event).toMatchObject({
      source: '/plugins/x',
      subject: 'kitchen',
      id: 'evt-1',
      time: '2025-02-01T10:00:00+01:00',
    })
    expect(isTraceparent(event.traceparent)).toBe(true)
    expect(event.traceparent).toBe(traceparent)
    expect(validateEnvelope(event)).toBe(true)
  })

  it('should give every event its own id and follow the clock for time', async () => {
    const clock = fixedClock(0)
    const bus = createEventBus({ ...quiet, clock })
    const events: CloudEvent[] = []
    bus.subscribe('a', (e) => {
      events.push(e)
    })
    await bus.publish('a', 1)
    clock.set(1_000)
    await bus.publish('a', 2)
    await bus.publish('a', 3)
    expect(new Set(events.map((e) => e.id)).size).toBe(3)
    expect(events.map((e) => e.time)).toEqual([
      '1970-01-01T00:00:00.000Z',
      '1970-01-01T00:00:01.000Z',
      '1970-01-01T00:00:01.000Z',
    ])
  })
})

describe('stats', () => {
  it('should count published, delivered, failed and live subscriptions, and return a copy', async () => {
    const bus = createEventBus(quiet)
    const off = bus.subscribe('a.*', () => {})
    bus.subscribe('a.b', () => {
      throw new Error('x')
    })
    await bus.publish('a.b', 1)
    await bus.publish('a.c', 1)
    off()
    const stats = bus.stats()
    expect(stats).toEqual({
      published: 3, // two, plus one core.bus.handler_failed
      delivered: 2,
      failed: 1,
      dropped: 0,
      discarded: 0,
      queued: 0,
      subscriptions: 1,
    })
    stats.published = 99
    expect(bus.stats().published).toBe(3)
  })
})
