import { CoreError, type StateChange, silentLogger } from '@core/contracts'
import { createFakeClock } from '@core/contracts/testing'
import { createEventBus } from '@core/event-bus'
import {
  createMemoryStateBackend,
  createStateEngine,
  type StateBackend,
  type StateListItem,
} from '@core/state-engine'
import { createMemoryAdapter, createStorage, type StorageAdapter } from '@core/storage'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  createPersistentStateBackend,
  definePlugin,
  type Kernel,
  PERSISTED_STATE_STORAGE_NAMESPACE,
  persistedStateKey,
} from '../src/index.js'
import { testKernel, until } from './helpers.js'

const CORE = PERSISTED_STATE_STORAGE_NAMESPACE

/** A storage adapter over the memory adapter whose writes (or reads) fail while told to. */
function flakyAdapter(inner: StorageAdapter = createMemoryAdapter()): {
  adapter: StorageAdapter
  fault: { writes: boolean; reads: boolean }
} {
  const fault = { writes: false, reads: false }
  const boom = (): Promise<never> => Promise.reject(new Error('disk full'))
  const adapter: StorageAdapter = {
    name: 'flaky',
    get: (ns, key) => (fault.reads ? boom() : inner.get(ns, key)),
    set: (ns, key, json) => (fault.writes ? boom() : inner.set(ns, key, json)),
    delete: (ns, key) => (fault.writes ? boom() : inner.delete(ns, key)),
    has: (ns, key) => (fault.reads ? boom() : inner.has(ns, key)),
    count: (ns, prefix) => (fault.reads ? boom() : inner.count(ns, prefix)),
    list: (ns, options) => (fault.reads ? boom() : inner.list(ns, options)),
    query: (ns, query) => (fault.reads ? boom() : inner.query(ns, query)),
    batch: (ns, ops) => (fault.writes ? boom() : inner.batch(ns, ops)),
    transaction: (fn) => (fault.writes ? boom() : inner.transaction(fn)),
    getSchemaVersion: (ns) => inner.getSchemaVersion(ns),
    setSchemaVersion: (ns, v) => inner.setSchemaVersion(ns, v),
    close: () => inner.close(),
  }
  return { adapter, fault }
}

/** Collects the changes of a namespace published on a kernel's bus. */
function changesOf(kernel: Kernel, namespace: string): StateChange[] {
  const seen: StateChange[] = []
  kernel.state.watch(namespace, '#', (change) => {
    seen.push(change)
  })
  return seen
}

const tick = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 5))

describe('persistState: state that survives a restart', () => {
  it('should restore persisted namespaces with their values, revisions and times when a second kernel starts on the same storage', async () => {
    const storage = createStorage(createMemoryAdapter())
    const clock = createFakeClock({ now: 1_000 })
    const first = testKernel({ storage, clock, persistState: ['scenes', 'presence'] })
    await first.start()
    const current = await first.state.set('scenes', 'current', { name: 'evening', level: 40 })
    clock.tick(10)
    const hall = await first.state.set('presence', 'hall', true)
    await first.stop()

    const second = testKernel({ storage, clock, persistState: ['scenes', 'presence'] })
    await second.start()
    expect(await second.state.get('scenes', 'current')).toEqual(current)
    expect(await second.state.get('presence', 'hall')).toEqual(hall)
    expect(current).toMatchObject({ revision: 1, updatedAt: 1_000 })
    expect(hall).toMatchObject({ revision: 2, updatedAt: 1_010 })
    expect(await second.state.list('scenes')).toEqual([{ key: 'current', ...current }])
  })

  it('should restore before any plugin is set up, so setup(ctx) reads the persisted state', async () => {
    const storage = createStorage(createMemoryAdapter())
    const first = testKernel({ storage, persistState: ['scenes'] })
    await first.start()
    await first.state.set('scenes', 'current', 'evening')
    await first.stop()

    let seen: unknown = 'not set up'
    const second = testKernel({
      storage,
      persistState: ['scenes'],
      plugins: [
        {
          manifest: { name: 'scenes', coreApi: '^1.0.0' },
          plugin: definePlugin({
            async setup(ctx) {
              seen = (await ctx.state.get('scenes', 'current'))?.value
            },
          }),
        },
      ],
      required: ['scenes'],
    })
    await second.start()
    expect(seen).toBe('evening')
  })

  it('should restore state from a storage that was closed and opened again over the same data', async () => {
    const data = createMemoryAdapter()
    // The adapter outlives each storage, as a database file outlives the process.
    const reopen = (): StorageAdapter => ({ ...data, name: 'reopened', close: async () => {} })
    const storage1 = createStorage(reopen())
    const first = testKernel({ storage: storage1, persistState: ['scenes'] })
    await first.start()
    await first.state.set('scenes', 'current', { name: 'night', ids: [1, 2, 3] })
    await first.state.set('scenes', 'old', 'x')
    await first.state.delete('scenes', 'old')
    const last = await first.state.set('scenes', 'current', { name: 'morning', ids: [] })
    await first.stop()
    await storage1.close()

    const storage2 = createStorage(reopen())
    try {
      const second = testKernel({ storage: storage2, persistState: ['scenes'] })
      await second.start()
      expect(await second.state.get('scenes', 'current')).toEqual(last)
      expect(await second.state.has('scenes', 'old')).toBe(false)
      const next = await second.state.set('scenes', 'current', 'day')
      expect(next.revision).toBeGreaterThan(last.revision)
      await second.stop()
    } finally {
      await storage2.close()
    }
  })

  it('should reject a write that storage refuses with E_STORAGE and leave the state unchanged', async () => {
    const { adapter, fault } = flakyAdapter()
    const storage = createStorage(adapter)
    const kernel = testKernel({ storage, persistState: ['scenes'] })
    await kernel.start()
    const changes = changesOf(kernel, 'scenes')
    const before = await kernel.state.set('scenes', 'current', 'evening')

    fault.writes = true
    const error = await kernel.state.set('scenes', 'current', 'night').catch((e: unknown) => e)
    expect(CoreError.is(error, 'E_STORAGE')).toBe(true)
    expect((error as CoreError).message).toMatch(
      /"current".*"scenes".*state is unchanged.*disk full/,
    )
    expect((error as CoreError).cause).toBeInstanceOf(Error)
    await expect(kernel.state.set('scenes', 'new', 1)).rejects.toMatchObject({ code: 'E_STORAGE' })
    await expect(kernel.state.delete('scenes', 'current')).rejects.toMatchObject({
      code: 'E_STORAGE',
    })
    expect(await kernel.state.get('scenes', 'current')).toEqual(before)
    expect(await kernel.state.has('scenes', 'new')).toBe(false)
    expect(await kernel.state.list('scenes')).toEqual([{ key: 'current', ...before }])
    await tick()
    expect(changes.map((c) => `${c.reason}:${c.key}:${String(c.value)}`)).toEqual([
      'set:current:evening',
    ])

    // Storage back: writes go on, with revisions above the failed attempts'
    fault.writes = false
    const after = await kernel.state.set('scenes', 'current', 'night', {
      ifRevision: before.revision,
    })
    expect(after.revision).toBeGreaterThan(before.revision)
    expect(await storage.get(CORE, 'state.scenes.current')).toMatchObject({
      value: 'night',
      revision: after.revision,
    })
  })

  it('should refuse a value larger than the storage allows with E_VALIDATION and leave the state unchanged', async () => {
    const storage = createStorage(createMemoryAdapter(), { maxValueBytes: 200 })
    const kernel = testKernel({ storage, persistState: ['scenes'] })
    await kernel.start()
    await kernel.state.set('scenes', 'note', 'short')
    await expect(kernel.state.set('scenes', 'note', 'x'.repeat(500))).rejects.toMatchObject({
      code: 'E_VALIDATION',
    })
    expect((await kernel.state.get('scenes', 'note'))?.value).toBe('short')
  })

  it('should keep revisions growing across a restart, also for a key deleted and created again', async () => {
    const storage = createStorage(createMemoryAdapter())
    const first = testKernel({ storage, persistState: ['scenes'] })
    await first.start()
    const a = await first.state.set('scenes', 'a', 1)
    await first.state.set('scenes', 'b', 1)
    await first.state.set('scenes', 'b', 2)
    await first.state.delete('scenes', 'b') // revision 4, not in any document
    await first.stop()

    const second = testKernel({ storage, persistState: ['scenes'] })
    await second.start()
    const changes = changesOf(second, 'scenes')
    const b = await second.state.set('scenes', 'b', 3)
    expect(b.revision).toBe(5)
    const a2 = await second.state.set('scenes', 'a', 2, { ifRevision: a.revision })
    expect(a2.revision).toBe(6)
    await until(() => changes.length === 2)
    expect(changes.map((c) => c.revision)).toEqual([5, 6])
  })

  it('should expire restored TTL entries at their expiresAt and drop those already expired', async () => {
    const storage = createStorage(createMemoryAdapter())
    const clock = createFakeClock({ now: 0 })
    const first = testKernel({ storage, clock, persistState: ['presence'] })
    await first.start()
    await first.state.set('presence', 'hall', true, { ttlMs: 1_000 })
    const kitchen = await first.state.set('presence', 'kitchen', true, { ttlMs: 5_000 })
    await first.stop()
    expect(await storage.has(CORE, 'state.presence.hall')).toBe(true)

    clock.tick(2_000)
    const second = testKernel({ storage, clock, persistState: ['presence'] })
    const changes = changesOf(second, 'presence')
    await second.start()
    // Already expired at boot: dropped, and its document removed
    expect(await second.state.has('presence', 'hall')).toBe(false)
    expect(await storage.has(CORE, 'state.presence.hall')).toBe(false)
    // Still live: restored with its deadline
    expect(await second.state.get('presence', 'kitchen')).toEqual(kitchen)
    expect(kitchen.expiresAt).toBe(5_000)

    clock.tick(3_000)
    expect(await second.state.has('presence', 'kitchen')).toBe(false)
    await until(() => changes.length === 1)
    expect(changes[0]).toMatchObject({ key: 'kitchen', reason: 'expired', previous: true })
    expect(changes[0]?.revision).toBeGreaterThan(kitchen.revision)
    await until(async () => !(await storage.has(CORE, 'state.presence.kitchen')))
  })

  it('should not expire a restored key that was written again before its old deadline', async () => {
    const storage = createStorage(createMemoryAdapter())
    const clock = createFakeClock({ now: 0 })
    const first = testKernel({ storage, clock, persistState: ['presence'] })
    await first.start()
    await first.state.set('presence', 'hall', true, { ttlMs: 1_000 })
    await first.stop()

    const second = testKernel({ storage, clock, persistState: ['presence'] })
    await second.start()
    const changes = changesOf(second, 'presence')
    await second.state.set('presence', 'hall', 'still here') // no TTL any more
    clock.tick(1_500)
    await tick()
    expect((await second.state.get('presence', 'hall'))?.value).toBe('still here')
    expect(changes.map((c) => c.reason)).toEqual(['set'])
  })

  it('should leave namespaces that are not persisted in memory only, usable before start()', async () => {
    const storage = createStorage(createMemoryAdapter())
    const first = testKernel({ storage, persistState: ['scenes'] })
    await first.state.set('cache', 'early', 1) // not persisted: fine before start()
    await first.start()
    await first.state.set('cache', 'hot', { n: 1 })
    await first.state.set('scenes', 'current', 'evening')
    expect(await storage.count(CORE)).toBe(1)
    expect((await storage.list(CORE)).items.map((i) => i.key)).toEqual(['state.scenes.current'])
    expect(await first.state.get('cache', 'hot')).toMatchObject({ value: { n: 1 } })
    await first.stop()

    const second = testKernel({ storage, persistState: ['scenes'] })
    await second.start()
    expect(await second.state.list('cache')).toEqual([])
    expect((await second.state.get('scenes', 'current'))?.value).toBe('evening')
  })

  it('should refuse a persisted namespace before start() has restored it', async () => {
    const kernel = testKernel({ persistState: ['scenes'] })
    await expect(kernel.state.get('scenes', 'current')).rejects.toMatchObject({
      code: 'E_UNAVAILABLE',
      message: expect.stringMatching(/not been restored.*start\(\)/),
    })
    await expect(kernel.state.set('scenes', 'current', 1)).rejects.toMatchObject({
      code: 'E_UNAVAILABLE',
    })
  })

  it('should remove the document of a deleted key from storage, and keep it deleted after a restart', async () => {
    const storage = createStorage(createMemoryAdapter())
    const first = testKernel({ storage, persistState: ['scenes'] })
    await first.start()
    const entry = await first.state.set('scenes', 'current', 'evening')
    expect(await storage.get(CORE, 'state.scenes.current')).toEqual({
      namespace: 'scenes',
      key: 'current',
      value: 'evening',
      revision: entry.revision,
      updatedAt: entry.updatedAt,
    })
    expect(await first.state.delete('scenes', 'current')).toBe(true)
    expect(await storage.has(CORE, 'state.scenes.current')).toBe(false)
    expect(await storage.get(CORE, 'state.#revision')).toEqual({ revision: entry.revision + 1 })
    await first.stop()

    const second = testKernel({ storage, persistState: ['scenes'] })
    await second.start()
    expect(await second.state.has('scenes', 'current')).toBe(false)
  })

  it('should persist keys too long for a storage key under a hashed key and restore them', async () => {
    const storage = createStorage(createMemoryAdapter())
    const key = `${'a'.repeat(70)}.${'b'.repeat(70)}`
    const storageKey = persistedStateKey('scenes', key)
    expect(storageKey).toMatch(/^state\.scenes\.#[A-Za-z0-9_-]{43}$/)
    expect(persistedStateKey('scenes', 'short.key')).toBe('state.scenes.short.key')
    const first = testKernel({ storage, persistState: ['scenes'] })
    await first.start()
    const entry = await first.state.set('scenes', key, 42)
    expect(await storage.get(CORE, storageKey)).toMatchObject({ key, value: 42 })
    await first.stop()

    const second = testKernel({ storage, persistState: ['scenes'] })
    await second.start()
    expect(await second.state.get('scenes', key)).toEqual(entry)
  })

  it('should reject start() with E_STORAGE before any plugin is set up when storage cannot be read', async () => {
    const { adapter, fault } = flakyAdapter()
    fault.reads = true
    let setUp = false
    const kernel = testKernel({
      storage: createStorage(adapter),
      persistState: ['scenes'],
      plugins: [
        {
          manifest: { name: 'scenes', coreApi: '^1.0.0' },
          plugin: definePlugin({
            setup() {
              setUp = true
            },
          }),
        },
      ],
    })
    await expect(kernel.start()).rejects.toMatchObject({
      code: 'E_STORAGE',
      message: expect.stringMatching(
        /restore the persisted state namespaces \(scenes\).*disk full/,
      ),
    })
    expect(setUp).toBe(false)
  })

  it('should skip and report stored documents that are not state entries', async () => {
    const storage = createStorage(createMemoryAdapter())
    await storage.set(CORE, 'state.scenes.bad', { nonsense: true })
    await storage.set(CORE, 'state.scenes.good', {
      namespace: 'scenes',
      key: 'good',
      value: 1,
      revision: 7,
      updatedAt: 5,
    })
    const warnings: unknown[] = []
    const backend = createPersistentStateBackend({
      storage,
      namespaces: ['scenes'],
      logger: { ...silentLogger, warn: (obj: unknown) => void warnings.push(obj) },
    })
    const report = await backend.restore()
    expect(report).toEqual({
      namespaces: { scenes: 1 },
      restored: 1,
      dropped: 0,
      skipped: 1,
      revision: 7,
    })
    expect(warnings).toHaveLength(1)
    expect(await backend.restore()).toBe(report)
    expect(backend.get('scenes', 'good')).toEqual({ value: 1, revision: 7, updatedAt: 5 })
  })

  it('should refuse bad options with E_VALIDATION', () => {
    expect(() => testKernel({ persistState: ['Bad Name'] })).toThrowError(
      expect.objectContaining({ code: 'E_VALIDATION' }),
    )
    expect(() => testKernel({ persistState: 'scenes' as never })).toThrowError(
      expect.objectContaining({
        code: 'E_VALIDATION',
        message: expect.stringMatching(/persistState/),
      }),
    )
    expect(() =>
      createPersistentStateBackend({ storage: undefined as never, namespaces: [] }),
    ).toThrowError(expect.objectContaining({ code: 'E_VALIDATION' }))
  })
})

describe('createPersistentStateBackend', () => {
  type Op =
    | { kind: 'set'; key: string; value: number; ttlMs?: number; ifRevision?: number }
    | { kind: 'delete'; key: string; ifRevision?: number }
    | { kind: 'expire'; key: string; revision: number }
    | { kind: 'advance'; ms: number }

  const keyArb = fc.constantFrom('a', 'b', 'c.d')
  const revArb = fc.option(fc.integer({ min: 0, max: 8 }), { nil: undefined })
  const opArb: fc.Arbitrary<Op> = fc.oneof(
    fc.record(
      {
        kind: fc.constant('set' as const),
        key: keyArb,
        value: fc.integer(),
        ttlMs: fc.option(fc.integer({ min: 1, max: 50 }), { nil: undefined }),
        ifRevision: revArb,
      },
      { requiredKeys: ['kind', 'key', 'value'] },
    ),
    fc.record(
      { kind: fc.constant('delete' as const), key: keyArb, ifRevision: revArb },
      { requiredKeys: ['kind', 'key'] },
    ),
    fc.record({
      kind: fc.constant('expire' as const),
      key: keyArb,
      revision: fc.integer({ min: 1, max: 8 }),
    }),
    fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 40 }) }),
  )

  const apply = async (backend: StateBackend, op: Op, now: number): Promise<unknown> => {
    if (op.kind === 'set') {
      const options = { now, expiresAt: op.ttlMs === undefined ? undefined : now + op.ttlMs }
      return backend.set('ns', op.key, op.value, { ...options, ifRevision: op.ifRevision })
    }
    if (op.kind === 'delete')
      return backend.delete('ns', op.key, { now, ifRevision: op.ifRevision })
    if (op.kind === 'expire') return backend.expire('ns', op.key, op.revision, now)
    return undefined
  }
  const sorted = (items: StateListItem[]): StateListItem[] =>
    [...items].sort((x, y) => (x.key < y.key ? -1 : 1))

  it('should answer every call as the memory backend does, and restore the live entries after a restart (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { maxLength: 30 }), async (ops) => {
        const storage = createStorage(createMemoryAdapter())
        const memory = createMemoryStateBackend()
        const persistent = createPersistentStateBackend({ storage, namespaces: ['ns'] })
        await persistent.restore()
        let now = 1_000
        for (const op of ops) {
          if (op.kind === 'advance') now += op.ms
          expect(await apply(persistent, op, now)).toEqual(await apply(memory, op, now))
        }
        expect(sorted(await persistent.list('ns'))).toEqual(sorted(await memory.list('ns')))

        const restarted = createPersistentStateBackend({
          storage,
          namespaces: ['ns'],
          clock: { now: () => now, setTimeout: () => 0, clearTimeout: () => {} },
        })
        const report = await restarted.restore()
        const live = sorted(await memory.list('ns')).filter(
          (e) => e.expiresAt === undefined || e.expiresAt > now,
        )
        expect(sorted(await restarted.list('ns'))).toEqual(live)
        // The counter resumes at or above every revision a persisted key ever had
        const next = await restarted.set('ns', 'a', 0, { now })
        const probe = await memory.set('ns', 'zz', 0, { now })
        expect(next.entry?.revision).toBe(probe.entry?.revision)
        expect(report.revision).toBe((next.entry?.revision ?? 0) - 1)
      }),
      { numRuns: 60 },
    )
  })

  it('should publish an expired change through the engine for a restored entry and keep other namespaces synchronous', async () => {
    const storage = createStorage(createMemoryAdapter())
    const clock = createFakeClock({ now: 0 })
    await storage.set(CORE, 'state.presence.hall', {
      namespace: 'presence',
      key: 'hall',
      value: 'on',
      revision: 3,
      updatedAt: 0,
      expiresAt: 100,
    })
    const backend = createPersistentStateBackend({ storage, namespaces: ['presence'], clock })
    const bus = createEventBus({ logger: silentLogger })
    const state = createStateEngine({ bus, backend, clock, logger: silentLogger })
    const seen: StateChange[] = []
    state.watch('presence', '#', (change) => void seen.push(change))
    expect(await backend.restore({ state })).toMatchObject({ restored: 1, revision: 3 })
    // A namespace that is not persisted answers directly, as the memory backend does
    const direct = backend.set('other', 'x', 1, { now: 0 })
    expect(direct).not.toBeInstanceOf(Promise)
    clock.tick(100)
    await until(() => seen.length === 1)
    expect(seen[0]).toMatchObject({ key: 'hall', reason: 'expired', revision: 5, previous: 'on' })
    await until(async () => !(await storage.has(CORE, 'state.presence.hall')))
    backend.close()
    await state.close()
  })
})

describe('manifest persistState: a plugin asks for its own namespace to be persisted', () => {
  const counter = (seen: unknown[]) => ({
    manifest: { name: 'counter', coreApi: '^1.0.0', persistState: true },
    plugin: definePlugin({
      async setup(ctx) {
        const current = await ctx.state.get<number>('counter', 'count')
        seen.push(current?.value)
        await ctx.state.set('counter', 'count', (current?.value ?? 0) + 1)
      },
    }),
  })

  it('should write its state through to storage and restore it before setup on the next start', async () => {
    const storage = createStorage(createMemoryAdapter())
    const seen: unknown[] = []
    const first = testKernel({ storage, plugins: [counter(seen)], required: ['counter'] })
    await first.start()
    expect(await storage.get(CORE, persistedStateKey('counter', 'count'))).toMatchObject({
      namespace: 'counter',
      key: 'count',
      value: 1,
    })
    await first.stop()
    const second = testKernel({ storage, plugins: [counter(seen)], required: ['counter'] })
    await second.start()
    expect(seen).toEqual([undefined, 1])
    expect((await second.state.get('counter', 'count'))?.value).toBe(2)
  })

  it('should keep the state of a plugin without it in memory only', async () => {
    const storage = createStorage(createMemoryAdapter())
    const plain = {
      manifest: { name: 'plain', coreApi: '^1.0.0' },
      plugin: definePlugin({
        async setup(ctx) {
          await ctx.state.set('plain', 'count', 1)
        },
      }),
    }
    const kernel = testKernel({ storage, plugins: [plain], required: ['plain'] })
    await kernel.start()
    expect((await kernel.state.get('plain', 'count'))?.value).toBe(1)
    expect(await storage.count(CORE, { prefix: 'state.' })).toBe(0)
  })

  it('should fail the boot with E_STORAGE when its namespace cannot be restored', async () => {
    const { adapter, fault } = flakyAdapter()
    const storage = createStorage(adapter)
    fault.reads = true
    const kernel = testKernel({ storage, plugins: [counter([])] })
    await expect(kernel.start()).rejects.toSatisfy((error: unknown) =>
      CoreError.is(error, 'E_STORAGE'),
    )
  })
})
