import { type CloudEvent, CloudEventSchema, isTraceparent } from '@core/contracts'
import { Ajv2020 } from 'ajv/dist/2020.js'
import ajvFormats from 'ajv-formats'
import { describe, expect, it } from 'vitest'
import { createEventBus } from '../src/index.js'
import { quiet, rejection, thrown } from './event-bus-helpers.js'
import { fixedClock, settled } from './helpers.js'

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
