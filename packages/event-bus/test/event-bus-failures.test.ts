import { type CloudEvent, CoreError, type SerializedCoreError, silentLogger } from '@core/contracts'
import { describe, expect, it } from 'vitest'
import { createEventBus, HANDLER_FAILED_EVENT, type HandlerFailedData } from '../src/index.js'
import { quiet } from './event-bus-helpers.js'
import { captureLogger, gate, settled } from './helpers.js'

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
