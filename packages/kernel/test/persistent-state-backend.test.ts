import { CoreError, type StateChange, silentLogger } from '@core/contracts'
import { createFakeClock } from '@core/contracts/testing'
import { createEventBus } from '@core/event-bus'
import {
  createMemoryStateBackend,
  createStateEngine,
  type StateBackend,
  type StateListItem,
} from '@core/state-engine'
import { createMemoryAdapter, createStorage } from '@core/storage'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createPersistentStateBackend, definePlugin, persistedStateKey } from '../src/index.js'
import { testKernel } from './helpers.js'
import { CORE, flakyAdapter } from './persistent-state-helpers.js'

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
    await expect.poll(() => seen.length, { timeout: 5_000 }).toBe(1)
    expect(seen[0]).toMatchObject({ key: 'hall', reason: 'expired', revision: 5, previous: 'on' })
    await expect
      .poll(() => storage.has(CORE, 'state.presence.hall'), { timeout: 5_000 })
      .toBe(false)
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
