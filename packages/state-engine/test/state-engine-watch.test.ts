import type { CloudEvent, StateChange } from '@core/contracts'
import { CoreError } from '@core/contracts'
import { describe, expect, it } from 'vitest'
import { createMemoryStateBackend, type StateBackend } from '../src/index.js'
import { flush, harness } from './helpers/setup.js'
import { rejection, thrown } from './state-engine-helpers.js'

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
