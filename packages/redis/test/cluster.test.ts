import { type CoreError, type StateChange, silentLogger } from '@core/contracts'
import { createEventBus } from '@core/event-bus'
import { createStateEngine, type StateEngine } from '@core/state-engine'
import fc from 'fast-check'
import { Registry } from 'prom-client'
import { afterEach, expect, it, vi } from 'vitest'
import { createRedisStateBackend, type RedisStateBackend } from '../src/index.js'
import { adminRedis, describeWithRedis, freshPrefix, TEST_REDIS_URL } from './redis-server.js'

interface Hub {
  state: StateEngine
  backend: RedisStateBackend
  /** Every change this hub's bus delivered, in order. */
  seen: StateChange[]
  /** The key prefix the cluster shares. */
  prefix: string
}

const hubs: Hub[] = []

/** `count` hubs sharing one fresh prefix: each its own bus, engine and backend. */
async function cluster(count: number, sweepIntervalMs = 50): Promise<Hub[]> {
  const keyPrefix = freshPrefix()
  const made: Hub[] = []
  for (let i = 0; i < count; i++) {
    const backend = createRedisStateBackend({
      url: TEST_REDIS_URL,
      keyPrefix,
      sweepIntervalMs,
      blockMs: 200,
      logger: silentLogger,
    })
    await backend.ready()
    const bus = createEventBus({ logger: silentLogger })
    const seen: StateChange[] = []
    bus.subscribe<StateChange>('state.#', (event) => {
      seen.push(event.data)
    })
    const state = createStateEngine({ bus, backend, logger: silentLogger })
    made.push({ state, backend, seen, prefix: keyPrefix })
  }
  hubs.push(...made)
  // Every reader has found the stream's end (its position) before the marker is written.
  await vi.waitFor(() => {
    for (const hub of made) expect(hub.backend.status().streamId).not.toBe('')
  })
  const marker = await made[0]?.state.set('sync', 'marker', true)
  await vi.waitFor(() => {
    for (const hub of made.slice(1)) {
      expect(hub.seen.some((c) => c.revision === marker?.revision)).toBe(true)
    }
  })
  for (const hub of made) hub.seen.length = 0
  return made
}

afterEach(async () => {
  for (const hub of hubs.splice(0)) {
    await hub.state.close()
    await hub.backend.close()
  }
})

const of = (seen: StateChange[], key: string): StateChange[] => seen.filter((c) => c.key === key)

describeWithRedis('three state engines on one Redis', () => {
  it('give exactly one winner when racing a compare-and-set on one key', async () => {
    const [a, b, c] = await cluster(3)
    const base = await a!.state.set('lights', 'hall', 0)
    const results = await Promise.allSettled(
      [a, b, c].map((hub, i) =>
        hub!.state.set('lights', 'hall', i + 1, { ifRevision: base.revision }),
      ),
    )
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1)
    const losers = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[]
    expect(losers.map((r) => (r.reason as CoreError).code)).toEqual(['E_CONFLICT', 'E_CONFLICT'])
    const winner = (
      results.find((r) => r.status === 'fulfilled') as PromiseFulfilledResult<{
        value: number
      }>
    ).value
    for (const hub of [a, b, c]) {
      expect((await hub!.state.get('lights', 'hall'))?.value).toBe(winner.value)
    }
  })

  it('expire a key once: every bus sees one expired event, with the same revision', async () => {
    const [a, b, c] = await cluster(3)
    await a!.state.set('presence', 'hall', 'someone', { ttlMs: 100 })
    await vi.waitFor(() => {
      for (const hub of [a, b, c]) {
        expect(of(hub!.seen, 'hall').map((ch) => ch.reason)).toEqual(['set', 'expired'])
      }
    })
    const revisions = [a, b, c].map((hub) => of(hub!.seen, 'hall')[1]?.revision)
    expect(new Set(revisions).size).toBe(1)
    expect(of(a!.seen, 'hall')[1]).toMatchObject({ previous: 'someone', reason: 'expired' })
    for (const hub of [a, b, c]) expect(await hub!.state.has('presence', 'hall')).toBe(false)
    // A later write is the positive signal that no second expiry is on its way.
    const after = await b!.state.set('presence', 'done', true)
    await vi.waitFor(() => {
      for (const hub of [a, c]) expect(hub!.seen.at(-1)?.revision).toBe(after.revision)
    })
    for (const hub of [a, b, c]) expect(of(hub!.seen, 'hall')).toHaveLength(2)
  })

  it('deliver every change made through any hub once to every hub, in revision order per key', async () => {
    const [a, b, c] = await cluster(3, 0)
    const writes: Promise<unknown>[] = []
    for (let i = 0; i < 60; i++) {
      const hub = [a, b, c][i % 3]!
      const key = `k${i % 4}`
      writes.push(i % 10 === 9 ? hub.state.delete('load', key) : hub.state.set('load', key, i))
    }
    await Promise.all(writes)
    const last = await a!.state.set('load', 'end', true)
    await vi.waitFor(() => {
      for (const hub of [a, b, c]) expect(hub!.seen.at(-1)?.revision).toBe(last.revision)
    })
    const reference = [...a!.seen].sort((x, y) => x.revision - y.revision)
    for (const hub of [a, b, c]) {
      const revisions = hub!.seen.map((ch) => ch.revision)
      expect(new Set(revisions).size).toBe(revisions.length)
      expect([...hub!.seen].sort((x, y) => x.revision - y.revision)).toEqual(reference)
      for (const key of ['k0', 'k1', 'k2', 'k3']) {
        const perKey = of(hub!.seen, key).map((ch) => ch.revision)
        expect(perKey).toEqual([...perKey].sort((x, y) => x - y))
      }
    }
  })

  it('keep each key in revision order on every bus under interleaved writes from three hubs', async () => {
    const [a, b, c] = await cluster(3, 0)
    const engines = [a, b, c] as Hub[]
    const write = fc.record({
      hub: fc.nat(2),
      key: fc.constantFrom('x', 'y', 'z'),
      op: fc.constantFrom('set', 'set', 'set', 'delete', 'cas'),
      ttl: fc.boolean(),
    })
    let round = 0
    await fc.assert(
      fc.asyncProperty(fc.array(write, { minLength: 1, maxLength: 40 }), async (writes) => {
        const namespace = `round${round++}`
        for (const hub of engines) hub.seen.length = 0
        const settled = await Promise.allSettled(
          writes.map(async ({ hub, key, op, ttl }, i) => {
            const state = (engines[hub] as Hub).state
            if (op === 'delete') return state.delete(namespace, key)
            const current = op === 'cas' ? await state.get(namespace, key) : undefined
            return state.set(namespace, key, i, {
              ttlMs: ttl ? 5 : undefined,
              ifRevision: op === 'cas' ? (current?.revision ?? 0) : undefined,
            })
          }),
        )
        for (const result of settled) {
          if (result.status === 'rejected')
            expect(result.reason).toMatchObject({ code: 'E_CONFLICT' })
        }
        const end = await a!.state.set(namespace, 'end', true)
        // What every bus must show: the stream's changes of this round up to the marker.
        const entries = await adminRedis().xrange(`${a!.prefix}state:changes`, '-', '+')
        const expected = entries
          .map(([, fields]) => fields)
          .filter((fields) => fields[fields.indexOf('n') + 1] === namespace)
          .map((fields) => Number(fields[fields.indexOf('r') + 1]))
          .filter((revision) => revision <= end.revision)
        const upToEnd = (hub: Hub): number[] =>
          hub.seen
            .filter((ch) => ch.namespace === namespace && ch.revision <= end.revision)
            .map((ch) => ch.revision)
            .sort((x, y) => x - y)
        await vi.waitFor(() => {
          for (const hub of engines) expect(upToEnd(hub)).toEqual(expected)
        })
        for (const hub of engines) {
          const mine = hub.seen.filter((ch) => ch.namespace === namespace)
          const revisions = mine.map((ch) => ch.revision)
          expect(new Set(revisions).size).toBe(revisions.length)
          for (const key of ['x', 'y', 'z']) {
            const perKey = mine.filter((ch) => ch.key === key).map((ch) => ch.revision)
            expect(perKey).toEqual([...perKey].sort((x, y) => x - y))
          }
        }
      }),
      { numRuns: 25 },
    )
  }, 60_000)

  it('lets a watcher on one hub see a key set on another, with its value and previous value', async () => {
    const [a, b] = await cluster(2)
    const watched: StateChange[] = []
    b!.state.watch('lights', 'kitchen.#', (change) => {
      watched.push(change)
    })
    await a!.state.set('lights', 'kitchen.main', { on: true })
    await a!.state.set('lights', 'kitchen.main', { on: false })
    await vi.waitFor(() => expect(watched).toHaveLength(2))
    expect(watched[1]).toMatchObject({
      key: 'kitchen.main',
      value: { on: false },
      previous: { on: true },
      reason: 'set',
    })
    expect(Object.isFrozen(watched[1]?.value)).toBe(true)
    expect((await b!.state.list('lights', { prefix: 'kitchen' })).map((i) => i.key)).toEqual([
      'kitchen.main',
    ])
  })

  it('export round trips and the stream lag through register(registry)', async () => {
    const [a, b] = await cluster(2)
    const registry = new Registry()
    b!.backend.metrics.register(registry)
    b!.backend.metrics.register(registry)
    await b!.state.get('lights', 'none')
    const written = await a!.state.set('lights', 'lag', 1)
    await vi.waitFor(() => expect(b!.seen.at(-1)?.revision).toBe(written.revision))
    const text = await registry.metrics()
    expect(text).toMatch(/^core_redis_command_duration_seconds_count\{op="get"\} [1-9]/m)
    expect(text).toMatch(/^core_redis_stream_lag_seconds [0-9.e-]+$/m)
    expect(text).toMatch(/^core_redis_connected 1$/m)
  })
})
