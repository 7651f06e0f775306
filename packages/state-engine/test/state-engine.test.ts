import type { CloudEvent, Logger, StateChange } from '@core/contracts'
import { CoreError, silentLogger } from '@core/contracts'
import { createFakeClock } from '@core/contracts/testing'
import type { EventBus } from '@core/event-bus'
import { describe, expect, it } from 'vitest'
import { createMemoryStateBackend, createStateEngine, type StateBackend } from '../src/index.js'
import { createTestBus, flush, harness } from './helpers/setup.js'

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

describe('createStateEngine', () => {
  it('refuses to start without an event bus', () => {
    const error = thrown(() => createStateEngine({} as never))
    expect(error.code).toBe('E_VALIDATION')
    expect(error.message).toMatch(/bus/)
  })
})

describe('set and get', () => {
  it('stores a value and returns its entry with revision, updatedAt and no expiresAt', async () => {
    const { state, clock } = harness()
    const entry = await state.set('lights', 'kitchen.main', { on: true })
    expect(entry).toEqual({ value: { on: true }, revision: 1, updatedAt: clock.now() })
    expect(await state.get('lights', 'kitchen.main')).toEqual(entry)
  })

  it('returns undefined for a key that was never set', async () => {
    const { state } = harness()
    expect(await state.get('lights', 'nowhere')).toBeUndefined()
    expect(await state.has('lights', 'nowhere')).toBe(false)
  })

  it('reports has() true for a stored key', async () => {
    const { state } = harness()
    await state.set('lights', 'hall', 1)
    expect(await state.has('lights', 'hall')).toBe(true)
  })

  it('keeps namespaces apart', async () => {
    const { state } = harness()
    await state.set('lights', 'hall', 'a')
    await state.set('heating', 'hall', 'b')
    expect((await state.get('lights', 'hall'))?.value).toBe('a')
    expect((await state.get('heating', 'hall'))?.value).toBe('b')
  })

  it('lets the latest write win', async () => {
    const { state } = harness()
    await state.set('lights', 'hall', 1)
    await state.set('lights', 'hall', 2)
    await state.set('lights', 'hall', 3)
    expect((await state.get('lights', 'hall'))?.value).toBe(3)
  })

  it('stores every kind of JSON value', async () => {
    const { state } = harness()
    for (const value of [null, true, 0, -1.5, '', 'text', [], [1, [2]], {}, { a: { b: [null] } }]) {
      await state.set('t', 'k', value)
      expect((await state.get('t', 'k'))?.value).toEqual(value)
    }
  })
})

describe('revisions', () => {
  it('grow with every write to a key', async () => {
    const { state } = harness()
    const a = await state.set('t', 'k', 1)
    const b = await state.set('t', 'k', 2)
    expect(b.revision).toBeGreaterThan(a.revision)
  })

  it('are never reused, even after a delete and re-create', async () => {
    const { state, changes } = harness()
    const first = await state.set('t', 'k', 1)
    await state.delete('t', 'k')
    const again = await state.set('t', 'k', 1)
    await flush()
    expect(again.revision).toBeGreaterThan(first.revision)
    const revisions = changes.map((c) => c.revision)
    expect(revisions).toEqual([...revisions].sort((x, y) => x - y))
    expect(new Set(revisions).size).toBe(revisions.length)
    expect(changes.map((c) => c.reason)).toEqual(['set', 'delete', 'set'])
  })

  it('come from one counter for the whole store, across keys and namespaces', async () => {
    const { state } = harness()
    const a = await state.set('one', 'k', 1)
    const b = await state.set('two', 'k', 1)
    const c = await state.set('one', 'other', 1)
    expect([a.revision, b.revision, c.revision]).toEqual([1, 2, 3])
  })
})

describe('ifRevision (optimistic concurrency)', () => {
  it('writes when the key is at the expected revision', async () => {
    const { state } = harness()
    const { revision } = await state.set('t', 'k', 1)
    const next = await state.set('t', 'k', 2, { ifRevision: revision })
    expect(next.value).toBe(2)
  })

  it('refuses a stale revision with E_CONFLICT naming the key, the expected and the actual revision', async () => {
    const { state, changes } = harness()
    const first = await state.set('t', 'k', 1)
    const second = await state.set('t', 'k', 2)
    await flush()
    const seen = changes.length
    const error = await rejection(state.set('t', 'k', 3, { ifRevision: first.revision }))
    expect(error.code).toBe('E_CONFLICT')
    expect(error.message).toContain('"k"')
    expect(error.message).toContain(`revision ${second.revision}`)
    expect(error.message).toContain(`expected revision ${first.revision}`)
    expect(error.details).toEqual({
      namespace: 't',
      key: 'k',
      expected: first.revision,
      actual: second.revision,
    })
    await flush()
    expect((await state.get('t', 'k'))?.value).toBe(2)
    expect(changes.length).toBe(seen)
  })

  it('treats ifRevision 0 as "create only if absent"', async () => {
    const { state } = harness()
    const created = await state.set('t', 'k', 1, { ifRevision: 0 })
    expect(created.value).toBe(1)
    const error = await rejection(state.set('t', 'k', 2, { ifRevision: 0 }))
    expect(error.code).toBe('E_CONFLICT')
    expect(error.message).toContain('expected it to be absent')
    expect(error.details).toMatchObject({ expected: 0, actual: created.revision })
  })

  it('refuses a revision on a key that does not exist', async () => {
    const { state } = harness()
    const error = await rejection(state.set('t', 'k', 1, { ifRevision: 5 }))
    expect(error.code).toBe('E_CONFLICT')
    expect(error.message).toContain('does not exist')
    expect(error.details).toMatchObject({ expected: 5, actual: 0 })
  })

  it('lets exactly one of two writers holding the same revision win', async () => {
    const { state } = harness()
    const { revision } = await state.set('t', 'k', 0)
    const results = await Promise.allSettled([
      state.set('t', 'k', 'a', { ifRevision: revision }),
      state.set('t', 'k', 'b', { ifRevision: revision }),
    ])
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected'])
    expect((await state.get('t', 'k'))?.value).toBe('a')
  })

  it('guards delete: a mismatch is E_CONFLICT, a match deletes', async () => {
    const { state } = harness()
    const { revision } = await state.set('t', 'k', 1)
    expect((await rejection(state.delete('t', 'k', { ifRevision: revision + 1 }))).code).toBe(
      'E_CONFLICT',
    )
    expect(await state.has('t', 'k')).toBe(true)
    expect(await state.delete('t', 'k', { ifRevision: revision })).toBe(true)
    expect(await state.has('t', 'k')).toBe(false)
  })

  it('lets delete with ifRevision 0 succeed on an absent key (returning false) and conflict on a present one', async () => {
    const { state } = harness()
    expect(await state.delete('t', 'k', { ifRevision: 0 })).toBe(false)
    await state.set('t', 'k', 1)
    expect((await rejection(state.delete('t', 'k', { ifRevision: 0 }))).code).toBe('E_CONFLICT')
  })

  it.each([-1, 1.5, Number.NaN, '1', null])(
    'refuses ifRevision %s with E_VALIDATION',
    async (bad) => {
      const { state } = harness()
      expect((await rejection(state.set('t', 'k', 1, { ifRevision: bad as never }))).code).toBe(
        'E_VALIDATION',
      )
      expect((await rejection(state.delete('t', 'k', { ifRevision: bad as never }))).code).toBe(
        'E_VALIDATION',
      )
    },
  )
})

describe('delete', () => {
  it('removes a key and returns true', async () => {
    const { state } = harness()
    await state.set('t', 'k', 1)
    expect(await state.delete('t', 'k')).toBe(true)
    expect(await state.get('t', 'k')).toBeUndefined()
  })

  it('returns false and publishes nothing for a key that does not exist', async () => {
    const { state, changes } = harness()
    expect(await state.delete('t', 'missing')).toBe(false)
    await flush()
    expect(changes).toEqual([])
  })
})

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

describe('names', () => {
  it.each([
    ['', 'k'],
    ['Lights', 'k'],
    ['1lights', 'k'],
    ['li ghts', 'k'],
    ['lights', ''],
    ['lights', 'a..b'],
    ['lights', '.a'],
    ['lights', 'a.'],
    ['lights', 'a b'],
    ['lights', 'a.*'],
    ['lights', 'a.#'],
    ['lights', 'ключ'],
  ])('refuses namespace %j with key %j (E_VALIDATION) on every call', async (namespace, key) => {
    const { state } = harness()
    for (const call of [
      () => state.set(namespace, key, 1),
      () => state.get(namespace, key),
      () => state.has(namespace, key),
      () => state.delete(namespace, key),
    ]) {
      expect((await rejection(call())).code).toBe('E_VALIDATION')
    }
  })

  it('refuses a key whose change topic would exceed 255 bytes or 32 words', async () => {
    const { state } = harness()
    const long = await rejection(state.set('lights', 'a'.repeat(250), 1))
    expect(long.code).toBe('E_VALIDATION')
    expect(long.message).toContain('255 bytes')
    const deep = Array.from({ length: 31 }, () => 'w').join('.')
    expect((await rejection(state.set('lights', deep, 1))).message).toContain('32 words')
    expect(
      (await state.set('lights', Array.from({ length: 29 }, () => 'w').join('.'), 1)).revision,
    ).toBe(1)
  })
})

describe('list', () => {
  it('returns the live entries of a namespace with their keys, sorted by key', async () => {
    const { state, clock } = harness()
    await state.set('t', 'b', 2)
    await state.set('t', 'a.x', 1)
    await state.set('t', 'c', 3)
    await state.set('other', 'a', 9)
    const items = await state.list('t')
    expect(items).toEqual([
      { key: 'a.x', value: 1, revision: 2, updatedAt: clock.now() },
      { key: 'b', value: 2, revision: 1, updatedAt: clock.now() },
      { key: 'c', value: 3, revision: 3, updatedAt: clock.now() },
    ])
  })

  it('filters by prefix word by word', async () => {
    const { state } = harness()
    for (const key of [
      'lights',
      'lights.kitchen',
      'lights.kitchen.main',
      'lightswitch',
      'heating.lights',
    ]) {
      await state.set('t', key, key)
    }
    expect((await state.list('t', { prefix: 'lights' })).map((i) => i.key)).toEqual([
      'lights',
      'lights.kitchen',
      'lights.kitchen.main',
    ])
    expect((await state.list('t', { prefix: 'lights.kitchen' })).map((i) => i.key)).toEqual([
      'lights.kitchen',
      'lights.kitchen.main',
    ])
  })

  it('returns an empty list for an unknown namespace', async () => {
    const { state } = harness()
    expect(await state.list('nobody')).toEqual([])
  })

  it('refuses an invalid namespace or prefix with E_VALIDATION', async () => {
    const { state } = harness()
    expect((await rejection(state.list('Bad'))).code).toBe('E_VALIDATION')
    expect((await rejection(state.list('t', { prefix: 'a.' }))).code).toBe('E_VALIDATION')
    expect((await rejection(state.list('t', { prefix: 'a.*' }))).code).toBe('E_VALIDATION')
  })
})

describe('watch', () => {
  it('calls the handler with the change and its CloudEvents envelope', async () => {
    const { state } = harness()
    const calls: [StateChange, CloudEvent<StateChange>][] = []
    state.watch('lights', 'kitchen.main', (change, event) => {
      calls.push([change, event])
    })
    const entry = await state.set('lights', 'kitchen.main', 'on')
    await flush()
    expect(calls).toHaveLength(1)
    const [change, event] = calls[0] as [StateChange, CloudEvent<StateChange>]
    expect(change).toEqual({
      namespace: 'lights',
      key: 'kitchen.main',
      value: 'on',
      revision: entry.revision,
      reason: 'set',
      updatedAt: entry.updatedAt,
    })
    expect(event.type).toBe('state.lights.kitchen.main')
    expect(event.specversion).toBe('1.0')
    expect(event.data).toBe(change)
  })

  it('matches keys with AMQP wildcards: * one word, # zero or more', async () => {
    const { state } = harness()
    const star: string[] = []
    const hash: string[] = []
    const all: string[] = []
    state.watch('lights', '*.main', (c) => void star.push(c.key))
    state.watch('lights', 'kitchen.#', (c) => void hash.push(c.key))
    state.watch('lights', '#', (c) => void all.push(c.key))
    for (const key of [
      'kitchen.main',
      'hall.main',
      'kitchen',
      'kitchen.ceiling.left',
      'hall.main.spare',
    ]) {
      await state.set('lights', key, 1)
    }
    await state.set('heating', 'kitchen.main', 1)
    await flush()
    expect(star).toEqual(['kitchen.main', 'hall.main'])
    expect(hash).toEqual(['kitchen.main', 'kitchen', 'kitchen.ceiling.left'])
    expect(all).toEqual([
      'kitchen.main',
      'hall.main',
      'kitchen',
      'kitchen.ceiling.left',
      'hall.main.spare',
    ])
  })

  it('stops calling the handler after its undo is called, or disposed', async () => {
    const { state } = harness()
    const seen: number[] = []
    const undo = state.watch('t', '#', (c) => void seen.push(c.value as number))
    await state.set('t', 'k', 1)
    await flush()
    undo()
    undo()
    await state.set('t', 'k', 2)
    {
      using _scoped = state.watch('t', '#', (c) => void seen.push((c.value as number) * 10))
      await state.set('t', 'k', 3)
      await flush()
    }
    await state.set('t', 'k', 4)
    await flush()
    expect(seen).toEqual([1, 30])
  })

  it('ends a watch when its signal aborts', async () => {
    const { state, bus } = harness()
    const controller = new AbortController()
    const seen: unknown[] = []
    state.watch('t', '#', (c) => void seen.push(c.value), { signal: controller.signal })
    expect(bus.stats().subscriptions).toBe(2)
    controller.abort()
    expect(bus.stats().subscriptions).toBe(1)
    await state.set('t', 'k', 1)
    await flush()
    expect(seen).toEqual([])
    await state.close()
  })

  it('refuses an invalid namespace, key pattern or handler with E_VALIDATION', () => {
    const { state } = harness()
    for (const [namespace, pattern] of [
      ['Bad', '#'],
      ['t', ''],
      ['t', 'a..b'],
      ['t', 'a*'],
      ['t', 'a.#x'],
      ['t', 'x'.repeat(250)],
    ] as const) {
      expect(thrown(() => state.watch(namespace, pattern, () => {})).code).toBe('E_VALIDATION')
    }
    expect(thrown(() => state.watch('t', '#', 'nope' as never)).code).toBe('E_VALIDATION')
  })
})

describe('backend failures', () => {
  it('wrap a backend error as E_STORAGE with the cause kept', async () => {
    const failing: StateBackend = {
      ...createMemoryStateBackend(),
      set: () => Promise.reject(new Error('connection reset')),
    }
    const { state } = harness({ backend: failing })
    const error = await rejection(state.set('t', 'k', 1))
    expect(error.code).toBe('E_STORAGE')
    expect(error.message).toContain('connection reset')
    expect((error.cause as Error).message).toBe('connection reset')
  })

  it('wrap an error thrown synchronously by a backend as E_STORAGE, for writes and reads', async () => {
    const boom = (): never => {
      throw new Error('boom')
    }
    const broken: StateBackend = { get: boom, list: boom, set: boom, delete: boom, expire: boom }
    const { state } = harness({ backend: broken })
    for (const call of [
      () => state.set('t', 'k', 1),
      () => state.delete('t', 'k'),
      () => state.get('t', 'k'),
      () => state.has('t', 'k'),
      () => state.list('t'),
    ]) {
      const error = await rejection(call())
      expect(error.code).toBe('E_STORAGE')
      expect(error.message).toContain('boom')
    }
  })

  it('wrap a rejected read as E_STORAGE', async () => {
    const down = (): Promise<never> => Promise.reject(new Error('down'))
    const { state } = harness({ backend: { ...createMemoryStateBackend(), get: down, list: down } })
    expect((await rejection(state.get('t', 'k'))).code).toBe('E_STORAGE')
    expect((await rejection(state.list('t'))).code).toBe('E_STORAGE')
  })

  it('pass a CoreError from the backend through unchanged', async () => {
    const original = new CoreError('E_UNAVAILABLE', 'redis is down')
    const failing: StateBackend = {
      ...createMemoryStateBackend(),
      delete: () => Promise.reject(original),
    }
    const { state } = harness({ backend: failing })
    expect(await rejection(state.delete('t', 'k'))).toBe(original)
  })

  it('do not block later writes to the same key', async () => {
    const memory = createMemoryStateBackend()
    let fail = true
    const flaky: StateBackend = {
      ...memory,
      set: (...args) => (fail ? Promise.reject(new Error('once')) : memory.set(...args)),
    }
    const { state } = harness({ backend: flaky })
    const first = state.set('t', 'k', 1)
    fail = false
    await expect(first).rejects.toThrow('once')
    expect((await state.set('t', 'k', 2)).value).toBe(2)
  })

  it('freeze entries from a backend that does not', async () => {
    const memory = createMemoryStateBackend()
    const thawed: StateBackend = {
      ...memory,
      get: async (namespace, key) => {
        const entry = await memory.get(namespace, key)
        return entry === undefined ? undefined : structuredClone(entry)
      },
    }
    const { state } = harness({ backend: thawed })
    await state.set('t', 'k', { a: [1] })
    const entry = await state.get<{ a: number[] }>('t', 'k')
    expect(Object.isFrozen(entry)).toBe(true)
    expect(Object.isFrozen(entry?.value.a)).toBe(true)
  })
})

describe('close', () => {
  it('stops the scheduler, ends the engine’s watches, and refuses further calls with E_UNAVAILABLE', async () => {
    const { state, clock, bus } = harness()
    await state.set('t', 'k', 1, { ttlMs: 1000 })
    const seen: unknown[] = []
    state.watch('t', '#', (c) => void seen.push(c))
    expect(clock.pending()).toBe(1)
    await state.close()
    expect(clock.pending()).toBe(0)
    expect(bus.stats().subscriptions).toBe(1)
    await bus.publish('state.t.k', { by: 'hand' })
    expect(seen).toEqual([])
    for (const call of [
      () => state.set('t', 'k', 1),
      () => state.get('t', 'k'),
      () => state.list('t'),
    ]) {
      expect((await rejection(call())).code).toBe('E_UNAVAILABLE')
    }
    expect(thrown(() => state.watch('t', '#', () => {})).code).toBe('E_UNAVAILABLE')
    await state.close()
  })

  it('waits for writes already in flight', async () => {
    const { state } = harness()
    const write = state.set('t', 'k', 1)
    await state.close()
    await expect(write).resolves.toMatchObject({ value: 1 })
  })
})

/** Wraps a backend so that each call commits at once but answers after a random number of microtask turns. */
function jittery(backend: StateBackend): StateBackend {
  const later =
    <A extends unknown[], R>(fn: (...args: A) => R | Promise<R>) =>
    async (...args: A): Promise<R> => {
      const result = await fn(...args)
      for (let i = Math.floor(Math.random() * 6); i > 0; i--) await Promise.resolve()
      return result
    }
  return {
    get: later(backend.get),
    list: later(backend.list),
    set: later(backend.set),
    delete: later(backend.delete),
    expire: later(backend.expire),
  }
}
