import { CoreError, silentLogger } from '@core/contracts'
import { createFakeClock } from '@core/contracts/testing'
import { createMemoryAdapter, createStorage, type StorageAdapter } from '@core/storage'
import { describe, expect, it } from 'vitest'
import { createPersistentStateBackend, definePlugin, persistedStateKey } from '../src/index.js'
import { testKernel } from './helpers.js'
import { CORE, changesOf, flakyAdapter, tick } from './persistent-state-helpers.js'

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
    await expect.poll(() => changes.length, { timeout: 5_000 }).toBe(2)
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
    await expect.poll(() => changes.length, { timeout: 5_000 }).toBe(1)
    expect(changes[0]).toMatchObject({ key: 'kitchen', reason: 'expired', previous: true })
    expect(changes[0]?.revision).toBeGreaterThan(kitchen.revision)
    await expect
      .poll(() => storage.has(CORE, 'state.presence.kitchen'), { timeout: 5_000 })
      .toBe(false)
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
