import type { CloudEvent, Logger, StateChange } from '@core/contracts'
import { silentLogger } from '@core/contracts'
import { createFakeClock } from '@core/contracts/testing'
import type { EventBus } from '@core/event-bus'
import { describe, expect, it } from 'vitest'
import { createMemoryStateBackend, createStateEngine, type StateBackend } from '../src/index.js'
import { createTestBus, flush, harness } from './helpers/setup.js'
import { jittery, rejection } from './state-engine-helpers.js'

describe('change events', () => {
  it('publishes state.<namespace>.<key> with the StateChange of a set: the whole new entry', async () => {
    const { state, bus } = harness()
    const events: CloudEvent<StateChange>[] = []
    bus.subscribe<StateChange>('state.lights.kitchen.main', (event) => {
      events.push(event)
    })
    const first = await state.set('lights', 'kitchen.main', { on: true })
    const second = await state.set('lights', 'kitchen.main', { on: false }, { ttlMs: 5_000 })
    await flush()
    expect(events.map((e) => e.type)).toEqual([
      'state.lights.kitchen.main',
      'state.lights.kitchen.main',
    ])
    expect(events[0]?.data).toEqual({
      namespace: 'lights',
      key: 'kitchen.main',
      value: { on: true },
      revision: first.revision,
      reason: 'set',
      updatedAt: first.updatedAt,
    })
    expect(events[1]?.data).toEqual({
      namespace: 'lights',
      key: 'kitchen.main',
      value: { on: false },
      previous: { on: true },
      revision: second.revision,
      reason: 'set',
      updatedAt: second.updatedAt,
      expiresAt: second.expiresAt,
    })
    expect(second.expiresAt).toBe(second.updatedAt + 5_000)
  })

  it('publishes a delete with the previous value, no value, a new revision and its time', async () => {
    const { state, changes, clock } = harness()
    const entry = await state.set('t', 'k', 'v')
    await clock.advance(250)
    await state.delete('t', 'k')
    await flush()
    const change = changes[1]
    expect(change).toEqual({
      namespace: 't',
      key: 'k',
      previous: 'v',
      revision: expect.any(Number),
      reason: 'delete',
      updatedAt: entry.updatedAt + 250,
    })
    expect(change?.revision).toBeGreaterThan(entry.revision)
    expect(change).not.toHaveProperty('value')
  })

  it('fills in updatedAt and expiresAt for a backend whose changes leave them out', async () => {
    const memory = createMemoryStateBackend()
    const untimed = <R extends { changes: StateChange[] }>(result: R): R => ({
      ...result,
      changes: result.changes.map(({ updatedAt: _u, expiresAt: _e, ...rest }) => rest),
    })
    const backend: StateBackend = {
      ...memory,
      set: (...args) => untimed(memory.set(...args) as Awaited<ReturnType<typeof memory.set>>),
      delete: (...args) =>
        untimed(memory.delete(...args) as Awaited<ReturnType<typeof memory.delete>>),
    }
    const { state, changes, clock } = harness({ backend })
    const entry = await state.set('t', 'k', 'v', { ttlMs: 1_000 })
    await clock.advance(10)
    await state.delete('t', 'k')
    await flush()
    expect(changes.map((c) => [c.reason, c.updatedAt, c.expiresAt])).toEqual([
      ['set', entry.updatedAt, entry.updatedAt + 1_000],
      ['delete', entry.updatedAt + 10, undefined],
    ])
  })

  it('uses /core/state as the CloudEvents source unless told otherwise', async () => {
    for (const [source, expected] of [
      [undefined, '/core/state'],
      ['/nodes/a/state', '/nodes/a/state'],
    ] as const) {
      const { state, bus } = harness(source === undefined ? {} : { source })
      const sources: string[] = []
      bus.subscribe('state.#', (event) => {
        sources.push(event.source)
      })
      await state.set('t', 'k', 1)
      await flush()
      expect(sources).toEqual([expected])
    }
  })

  it('resolves set before a slow watcher has finished, and the watcher still gets every change in order', async () => {
    const { state } = harness()
    let release: () => void = () => {}
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    const seen: number[] = []
    state.watch('t', 'k', async (change) => {
      await gate
      seen.push(change.value as number)
    })
    for (let i = 0; i < 20; i++) await state.set('t', 'k', i)
    expect(seen).toEqual([])
    release()
    await new Promise((resolve) => setTimeout(resolve, 10))
    expect(seen).toEqual(Array.from({ length: 20 }, (_, i) => i))
  })

  it('publishes one key’s changes in revision order when writes are issued concurrently', async () => {
    const { state, changes } = harness()
    const writes = Array.from({ length: 50 }, (_, i) =>
      i % 7 === 6 ? state.delete('t', 'k') : state.set('t', 'k', i),
    )
    await Promise.all(writes)
    await flush()
    const revisions = changes.map((c) => c.revision)
    expect(revisions).toEqual([...revisions].sort((a, b) => a - b))
    expect((await state.get('t', 'k'))?.value).toBe(49)
  })

  it('publishes in call order across keys with the in-memory backend', async () => {
    const { state, changes } = harness()
    await Promise.all([
      state.set('t', 'a', 1),
      state.set('t', 'b', 2),
      state.delete('t', 'a'),
      state.set('u', 'c', 3),
    ])
    await flush()
    expect(changes.map((c) => `${c.reason} ${c.namespace}/${c.key}`)).toEqual([
      'set t/a',
      'set t/b',
      'delete t/a',
      'set u/c',
    ])
  })

  it('keeps revision order per key even when the backend answers out of order', async () => {
    const bus = createTestBus()
    const clock = createFakeClock({ now: 1_700_000_000_000 })
    const backend = jittery(createMemoryStateBackend())
    const state = createStateEngine({ bus, backend, clock, logger: silentLogger })
    const perKey = new Map<string, number[]>()
    bus.subscribe<StateChange>('state.#', (event) => {
      const list = perKey.get(event.data.key) ?? []
      list.push(event.data.revision)
      perKey.set(event.data.key, list)
    })
    const writes: Promise<unknown>[] = []
    for (let i = 0; i < 60; i++) writes.push(state.set('t', `k${i % 3}`, i))
    await Promise.all(writes)
    await flush()
    for (const [key, revisions] of perKey) {
      expect(revisions, key).toEqual([...revisions].sort((a, b) => a - b))
      expect(revisions).toHaveLength(20)
    }
    expect((await state.get('t', 'k0'))?.value).toBe(57)
  })

  it('logs a change the bus refuses to publish, and the write still succeeds', async () => {
    const errors: unknown[] = []
    const logger: Logger = { ...silentLogger, error: (obj: unknown) => void errors.push(obj) }
    const bus: EventBus = {
      ...createTestBus(),
      publish: () => Promise.reject(new Error('bus down')),
    }
    const state = createStateEngine({
      bus,
      logger,
      clock: createFakeClock({ now: 1_700_000_000_000 }),
    })
    const entry = await state.set('t', 'k', 1)
    await flush()
    expect(entry.value).toBe(1)
    expect(errors).toHaveLength(1)
  })
})

describe('values are the engine’s own', () => {
  it('is not changed by a caller mutating its object after set', async () => {
    const { state } = harness()
    const mine = { on: true, levels: [1, 2] }
    await state.set('t', 'k', mine)
    mine.on = false
    mine.levels.push(3)
    expect((await state.get('t', 'k'))?.value).toEqual({ on: true, levels: [1, 2] })
  })

  it('hands out deep-frozen values and entries, so mutating them throws and changes nothing', async () => {
    const { state } = harness()
    const returned = await state.set('t', 'k', { nested: { n: 1 }, list: [1] })
    const entry = await state.get<{ nested: { n: number }; list: number[] }>('t', 'k')
    expect(entry).toBeDefined()
    if (entry === undefined) return
    expect(Object.isFrozen(returned)).toBe(true)
    expect(() => {
      entry.value.nested.n = 2
    }).toThrow(TypeError)
    expect(() => entry.value.list.push(2)).toThrow(TypeError)
    expect(() => {
      ;(entry as { revision: number }).revision = 99
    }).toThrow(TypeError)
    expect(await state.get('t', 'k')).toEqual({
      value: { nested: { n: 1 }, list: [1] },
      revision: 1,
      updatedAt: entry.updatedAt,
    })
  })

  it('gives watchers frozen changes, so one watcher cannot alter what another sees', async () => {
    const { state } = harness()
    const seen: unknown[] = []
    state.watch('t', 'k', (change) => {
      try {
        ;(change.value as { n: number }).n = 666
      } catch {
        // frozen
      }
    })
    state.watch('t', 'k', (change) => {
      seen.push(change.value)
    })
    await state.set('t', 'k', { n: 1 })
    await flush()
    expect(seen).toEqual([{ n: 1 }])
  })

  it.each([
    ['a function', () => 1, '/'],
    ['NaN', Number.NaN, '/'],
    ['Infinity', Number.POSITIVE_INFINITY, '/'],
    ['undefined', undefined, '/'],
    ['a BigInt', 10n, '/'],
    ['a symbol', Symbol('s'), '/'],
    ['a Map inside an object', { m: new Map() }, '/m'],
    ['NaN inside an array', [1, Number.NaN], '/1'],
  ])(
    'refuses %s with E_VALIDATION and the JSON Pointer of the bad place',
    async (_, value, path) => {
      const { state, changes } = harness()
      const error = await rejection(state.set('t', 'k', value))
      expect(error.code).toBe('E_VALIDATION')
      expect(error.message).toContain('state key "k" in namespace "t"')
      expect(error.details).toMatchObject({ path })
      await flush()
      expect(changes).toEqual([])
      expect(await state.has('t', 'k')).toBe(false)
    },
  )

  it('refuses a value that contains itself', async () => {
    const { state } = harness()
    const loop: Record<string, unknown> = {}
    loop.self = loop
    expect((await rejection(state.set('t', 'k', loop))).code).toBe('E_VALIDATION')
  })

  it('stores the toJSON() form of a Date', async () => {
    const { state } = harness()
    await state.set('t', 'k', { at: new Date(0) })
    expect((await state.get('t', 'k'))?.value).toEqual({ at: '1970-01-01T00:00:00.000Z' })
  })
})
