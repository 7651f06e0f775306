import { randomUUID } from 'node:crypto'
import { type CloudEvent, CoreError } from '@core/contracts'
import { Connection } from 'rabbitmq-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  AMQP_URL,
  dropTopology,
  MemoryDirectory,
  makeNode,
  requireBroker,
  skipBroker,
  type TestNode,
  uniqueTopology,
} from './helpers.js'

const TRACE = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'

describe.skipIf(skipBroker)('MindBus on a real RabbitMQ: three in-process nodes', () => {
  const topology = uniqueTopology()
  const directory = new MemoryDirectory()
  let a: TestNode
  let b: TestNode
  let c: TestNode
  let raw: Connection
  const seenOnC: Array<{ meta: Record<string, unknown>; user: unknown }> = []
  const slowAborted: unknown[] = []
  let slowStarted = 0
  let releaseGate: () => void = () => undefined
  let gateStarted = 0

  beforeAll(async () => {
    requireBroker()
    a = makeNode('a', directory, topology, { exportEvents: ['probe.#'], importEvents: ['probe.#'] })
    b = makeNode('b', directory, topology, { importEvents: ['probe.#'] })
    c = makeNode('c', directory, topology, { exportEvents: ['probe.#'], importEvents: ['probe.#'] })
    for (const node of [b, c]) {
      node.services.register(
        'calc.add',
        ({ x, y }: { x: number; y: number }) => ({ sum: x + y, by: node.id }),
        {
          params: { type: 'object', properties: { x: { type: 'number' }, y: { type: 'number' } } },
        },
      )
    }
    c.services.register(
      'calc.echo',
      (params: unknown, ctx) => {
        seenOnC.push({ meta: { ...ctx.meta }, user: ctx.meta.user })
        return { params, traceparent: ctx.meta.traceparent }
      },
      { params: {} },
    )
    c.services.register(
      'calc.slow',
      (_p, ctx) =>
        new Promise((resolve) => {
          slowStarted++
          const timer = setTimeout(() => resolve('slow done'), 5_000)
          ctx.signal.addEventListener('abort', () => {
            clearTimeout(timer)
            slowAborted.push(ctx.signal.reason)
            resolve('aborted')
          })
        }),
      { params: {} },
    )
    c.services.register(
      'gate.wait',
      () => {
        gateStarted++
        return new Promise<string>((resolve) => {
          const prev = releaseGate
          releaseGate = () => {
            prev()
            resolve('released')
          }
        })
      },
      { params: {} },
    )
    c.services.register(
      'calc.fail',
      () => {
        throw new CoreError('E_CONFLICT', 'calc.fail always refuses')
      },
      { params: {} },
    )
    directory.set('a', a.services)
    directory.set('b', b.services, { room: 'hall' })
    directory.set('c', c.services, { room: 'kitchen' })
    await Promise.all([
      a.mindbus.start(a.services),
      b.mindbus.start(b.services),
      c.mindbus.start(c.services),
    ])
    raw = new Connection({ url: AMQP_URL, noDelay: true })
    await raw.onConnect(5_000)
  })

  afterAll(async () => {
    releaseGate()
    await Promise.allSettled([a?.mindbus.close(), b?.mindbus.close(), c?.mindbus.close()])
    await raw?.close()
    await dropTopology(
      topology,
      ['a', 'b', 'c'],
      ['calc', 'gate'],
      [`${topology.queuePrefix}.probe`],
    )
  })

  it('calls a service of another node and carries traceparent, subject and the broker user there and back', async () => {
    const result = await a.services.call<{ params: unknown; traceparent: string }>(
      'calc.echo',
      { hello: 'c' },
      { meta: { traceparent: TRACE, subject: 'order-42' } },
    )
    expect(result).toEqual({ params: { hello: 'c' }, traceparent: TRACE })
    const seen = seenOnC.at(-1)
    expect(seen?.meta).toMatchObject({
      traceparent: TRACE,
      subject: 'order-42',
      caller: 'uid-a',
      user: 'guest',
    })
  })

  it('sends a call made in the same event-loop turn as another call\'s publish (the write cork is not "down")', async () => {
    await a.services.call('calc.add', { x: 0, y: 0 }) // the reply channel is open
    const first = a.services.call('calc.add', { x: 1, y: 1 })
    // Let the first call reach its publish (which corks the socket until the check phase),
    // staying in this turn: only microtasks run in between.
    for (let i = 0; i < 50; i++) await Promise.resolve()
    expect(a.mindbus.health()).toBe('healthy')
    const second = a.services.call('calc.add', { x: 2, y: 2 })
    await expect(Promise.all([first, second])).resolves.toMatchObject([{ sum: 2 }, { sum: 4 }])
  })

  it('rebuilds the remote CoreError with its code and message', async () => {
    const error = await a.services.call('calc.fail', {}).catch((e: unknown) => e)
    expect(CoreError.is(error, 'E_CONFLICT')).toBe(true)
    expect((error as CoreError).message).toBe('calc.fail always refuses')
  })

  it('reaches only the node matching a selector, or the node named', async () => {
    for (let i = 0; i < 4; i++) {
      const r = await a.services.call<{ by: string }>(
        'calc.add',
        { x: 1, y: i },
        { meta: { route: { selector: 'room=kitchen' } } },
      )
      expect(r.by).toBe('c')
    }
    const named = await a.services.call<{ by: string }>(
      'calc.add',
      { x: 1, y: 1 },
      { meta: { route: { node: 'uid-b' } } },
    )
    expect(named).toEqual({ sum: 2, by: 'b' })
  })

  it('spreads calls over the nodes serving a service (least in flight, then round robin)', async () => {
    const by = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        a.services.call<{ by: string }>('calc.add', { x: i, y: 0 }).then((r) => r.by),
      ),
    )
    expect(new Set(by)).toEqual(new Set(['b', 'c']))
  })

  it('sends dispatch "any" calls to the shared namespace queue', async () => {
    const r = await a.services.call<{ sum: number }>(
      'calc.add',
      { x: 2, y: 3 },
      { meta: { route: { dispatch: 'any' } } },
    )
    expect(r.sum).toBe(5)
  })

  it('fails at once with E_SERVICE_NOT_FOUND when no healthy node serves the call', async () => {
    const missing = await a.services
      .call('calc.nothing', {}, { timeoutMs: 60_000 })
      .catch((e: unknown) => e)
    expect(CoreError.is(missing, 'E_SERVICE_NOT_FOUND')).toBe(true)
    const noMatch = await a.services
      .call('calc.add', {}, { timeoutMs: 60_000, meta: { route: { selector: 'room=garage' } } })
      .catch((e: unknown) => e)
    expect(CoreError.is(noMatch, 'E_SERVICE_NOT_FOUND')).toBe(true)
    expect((noMatch as CoreError).message).toContain('room=garage')
  })

  it('does not let a 5 s handler delay a fast call to the same node, and cancelling reaches the handler there', async () => {
    const cancel = new AbortController()
    let slowSettled = false
    const slow = a.services
      .call('calc.slow', {}, { signal: cancel.signal, timeoutMs: 10_000 })
      .catch((e: unknown) => e)
      .finally(() => {
        slowSettled = true
      })
    // The 5 s handler runs on c before the fast call is sent to the same node.
    await expect.poll(() => slowStarted).toBe(1)
    const fast = await a.services.call(
      'calc.echo',
      { fast: true },
      { meta: { route: { node: 'uid-c' } } },
    )
    expect(fast).toMatchObject({ params: { fast: true } })
    expect(slowSettled).toBe(false)
    cancel.abort()
    expect(CoreError.is(await slow, 'E_CANCELLED')).toBe(true)
    await expect.poll(() => slowAborted.length).toBe(1)
    expect(CoreError.is(slowAborted[0], 'E_CANCELLED')).toBe(true)
  })

  it('delivers an exported event to the other importing nodes once each, never back to its sender', async () => {
    const got: Record<string, CloudEvent[]> = { a: [], b: [], c: [] }
    const undo = [a, b, c].map((n) => n.bus.subscribe('probe.#', (e) => void got[n.id]?.push(e)))
    const id = randomUUID()
    await c.bus.publish('probe.kitchen.changed', { on: true }, { id })
    await expect.poll(() => got.a?.length === 1 && got.b?.length === 1).toBe(true)
    const onA = got.a?.[0]
    expect(onA).toMatchObject({
      type: 'probe.kitchen.changed',
      id,
      source: 'uid-c',
      data: { on: true },
    })
    // A re-exports nothing it imported, and C never gets its own event back: after a marker
    // event from A has arrived on C, C still holds only its own local publish.
    await a.bus.publish('probe.marker', {})
    await expect.poll(() => got.c?.some((e) => e.type === 'probe.marker')).toBe(true)
    expect(got.c?.filter((e) => e.id === id)).toHaveLength(1)
    expect(got.b?.filter((e) => e.id === id)).toHaveLength(1)
    for (const u of undo) u()
  })

  it('delivers a control signal while 10,000 commands wait in the node queue', async () => {
    const received: string[] = []
    const undo = c.mindbus.onControl('config', (s) => void received.push(s.from))
    const pub = raw.createPublisher({ confirm: true })
    // Keep C's command consumers busy, then queue 10,000 commands behind them.
    const busy = Array.from({ length: 4 }, () =>
      a.services
        .call('gate.wait', {}, { timeoutMs: 120_000, meta: { route: { node: 'uid-c' } } })
        .catch(() => undefined),
    )
    try {
      await expect.poll(() => gateStarted).toBe(4)
      const command = (): Record<string, unknown> => ({
        specversion: '1.0',
        id: randomUUID(),
        source: 'test',
        type: 'core.mindbus.command',
        time: new Date().toISOString(),
        data: { action: 'wait', params: {} },
      })
      const queued: Promise<void>[] = []
      for (let i = 0; i < 10_000; i++) {
        queued.push(
          pub.send(
            {
              exchange: topology.exchange,
              routingKey: 'cmd.gate.c',
              expiration: '120000',
              durable: true,
              priority: 20,
              contentType: 'application/json',
            },
            command(),
          ),
        )
      }
      await Promise.all(queued)
      await a.mindbus.control('c', 'config', { reload: true })
      await expect.poll(() => received).toEqual(['uid-a'])
      const depths = await c.mindbus.queueDepths()
      expect(depths[`${topology.queuePrefix}.node.c`]).toBeGreaterThanOrEqual(9_990)
    } finally {
      undo()
      await raw.queuePurge(`${topology.queuePrefix}.node.c`)
      releaseGate()
      await Promise.all(busy)
      await pub.close()
    }
  }, 120_000)

  it('pauses command consumption on ctl.<node>.pause (control still flows) until resume', async () => {
    await a.mindbus.control('b', 'pause')
    await expect.poll(() => b.mindbus.paused).toBe(true)
    const waiting = a.services.call<{ by: string }>(
      'calc.add',
      { x: 1, y: 1 },
      { timeoutMs: 60_000, meta: { route: { node: 'uid-b' } } },
    )
    await expect
      .poll(async () => (await b.mindbus.queueDepths())[`${topology.queuePrefix}.node.b`])
      .toBe(1)
    await a.mindbus.control('b', 'resume')
    expect(await waiting).toEqual({ sum: 2, by: 'b' })
    expect(b.mindbus.paused).toBe(false)
  })

  it('dead-letters an unreadable command to the dead-letter queue and counts it', async () => {
    const pub = raw.createPublisher({ confirm: true })
    const messageId = randomUUID()
    const before = c.mindbus.stats().deadLettered
    await pub.send(
      {
        exchange: topology.exchange,
        routingKey: 'cmd.calc.c',
        messageId,
        contentType: 'application/json',
      },
      Buffer.from('{not json'),
    )
    await expect.poll(() => c.mindbus.stats().deadLettered).toBe(before + 1)
    const dead = await raw.basicGet({ queue: topology.deadLetterQueue, noAck: true })
    expect(dead?.messageId).toBe(messageId)
    expect(c.logger.records.some((r) => r.msg?.includes('dead-lettered'))).toBe(true)
    await pub.close()
  })

  it('drops an expired command without running it (DroppedExpired) and suppresses a duplicate', async () => {
    const pub = raw.createPublisher({ confirm: true })
    const before = c.mindbus.stats()
    const echoes = seenOnC.length
    const old = new Date(Date.now() - 10_000).toISOString()
    await pub.send(
      {
        exchange: topology.exchange,
        routingKey: 'cmd.calc.c',
        expiration: '5000',
        durable: true,
        contentType: 'application/json',
      },
      {
        specversion: '1.0',
        id: randomUUID(),
        source: 'test',
        type: 'core.mindbus.command',
        time: old,
        data: { action: 'echo', params: {} },
      },
    )
    await expect.poll(() => c.mindbus.stats().droppedExpired).toBe(before.droppedExpired + 1)
    expect(c.logger.records.some((r) => r.msg?.startsWith('DroppedExpired'))).toBe(true)
    const dup = {
      specversion: '1.0',
      id: randomUUID(),
      source: 'test',
      type: 'ai.team.command',
      time: new Date().toISOString(),
      data: { action: 'echo', params: { n: 1 } },
    }
    const env = {
      exchange: topology.exchange,
      routingKey: 'cmd.calc.c',
      expiration: '30000',
      durable: true,
      contentType: 'application/json',
    }
    await pub.send(env, dup)
    await pub.send(env, dup)
    await expect.poll(() => c.mindbus.stats().duplicates).toBe(before.duplicates + 1)
    expect(seenOnC.length).toBe(echoes + 1)
    await pub.close()
  })

  it('binds a local bus pattern unchanged as the broker binding key (same topics match)', async () => {
    const { createTopicMatcher } = await import('@core/event-bus')
    const queue = `${topology.queuePrefix}.probe`
    const patterns = ['probe.*.x', 'probe.#.z', 'probe.a.#']
    await raw.queueDeclare({ queue, exclusive: true })
    for (const p of patterns)
      await raw.queueBind({ exchange: topology.exchange, queue, routingKey: `evt.${p}` })
    const topics = [
      'probe.a',
      'probe.a.x',
      'probe.b.x',
      'probe.b.c.x',
      'probe.z',
      'probe.b.z',
      'probe.a.b.c',
      'other.a.x',
    ]
    const matcher = createTopicMatcher<string>()
    for (const p of patterns) matcher.add(p, p)
    const pub = raw.createPublisher({ confirm: true })
    for (const t of topics)
      await pub.send({ exchange: topology.exchange, routingKey: `evt.${t}` }, t)
    const routed: string[] = []
    for (;;) {
      const m = await raw.basicGet({ queue, noAck: true })
      if (m === undefined) break
      routed.push(String(m.body))
    }
    expect(routed.sort()).toEqual(topics.filter((t) => matcher.match(t).length > 0).sort())
    await pub.close()
  })
})
