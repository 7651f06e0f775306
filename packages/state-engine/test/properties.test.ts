import type { StateChange } from '@core/contracts'
import { CoreError, silentLogger } from '@core/contracts'
import { createFakeClock } from '@core/contracts/testing'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createMemoryStateBackend, createStateEngine, type StateBackend } from '../src/index.js'
import { createTestBus, flush } from './helpers/setup.js'

const KEYS = ['a', 'b', 'c', 'c.d', 'e.f.g'] as const

type Op =
  | {
      op: 'set'
      key: string
      value: number
      ttlMs: number | undefined
      guard: 'none' | 'current' | 'absent' | 'wrong'
    }
  | { op: 'delete'; key: string; guard: 'none' | 'current' | 'wrong' }
  | { op: 'advance'; ms: number }
  | { op: 'jump'; ms: number }

const key = fc.constantFrom(...KEYS)
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      op: fc.constant('set' as const),
      key,
      value: fc.integer(),
      ttlMs: fc.option(fc.integer({ min: 1, max: 60 }), { nil: undefined }),
      guard: fc.constantFrom(
        'none' as const,
        'current' as const,
        'absent' as const,
        'wrong' as const,
      ),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('delete' as const),
      key,
      guard: fc.constantFrom('none' as const, 'current' as const, 'wrong' as const),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('advance' as const),
      ms: fc.integer({ min: 0, max: 40 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant('jump' as const), ms: fc.integer({ min: 0, max: 40 }) }),
  },
)

interface ModelEntry {
  value: number
  expiresAt: number | undefined
}

function setup(backend?: StateBackend) {
  const bus = createTestBus()
  const clock = createFakeClock({ now: 0 })
  const state = createStateEngine({
    bus,
    clock,
    logger: silentLogger,
    ...(backend ? { backend } : {}),
  })
  const perKey = new Map<string, StateChange[]>()
  const all: StateChange[] = []
  bus.subscribe<StateChange>('state.p.#', (event) => {
    all.push(event.data)
    const list = perKey.get(event.data.key) ?? []
    list.push(event.data)
    perKey.set(event.data.key, list)
  })
  return { state, clock, perKey, all }
}

function expectIncreasing(revisions: number[], label: string): void {
  for (let i = 1; i < revisions.length; i++) {
    expect(revisions[i], `${label}: revision ${i}`).toBeGreaterThan(revisions[i - 1] as number)
  }
}

describe('state engine properties', () => {
  it('never moves a key’s revision back, lets the latest write win, and delivers each key’s changes in revision order', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { maxLength: 40 }), async (ops) => {
        const { state, clock, perKey, all } = setup()
        const model = new Map<string, ModelEntry>()
        const lastRevision = new Map<string, number>()
        const live = (k: string): ModelEntry | undefined => {
          const m = model.get(k)
          return m !== undefined && (m.expiresAt === undefined || m.expiresAt > clock.now())
            ? m
            : undefined
        }
        for (const op of ops) {
          if (op.op === 'advance') clock.tick(op.ms)
          else if (op.op === 'jump') clock.jump(op.ms)
          else {
            const current = await state.get('p', op.key)
            const guard =
              op.guard === 'current'
                ? (current?.revision ?? 0)
                : op.guard === 'absent'
                  ? 0
                  : op.guard === 'wrong'
                    ? 1e9
                    : undefined
            const shouldFail =
              guard !== undefined &&
              guard !== (live(op.key) === undefined ? 0 : (current?.revision ?? 0))
            if (op.op === 'set') {
              const result = await state
                .set('p', op.key, op.value, { ttlMs: op.ttlMs, ifRevision: guard })
                .catch((e: unknown) => e)
              if (shouldFail) expect(CoreError.is(result, 'E_CONFLICT')).toBe(true)
              else {
                const entry = result as { revision: number }
                expect(entry.revision).toBeGreaterThan(lastRevision.get(op.key) ?? 0)
                lastRevision.set(op.key, entry.revision)
                model.set(op.key, {
                  value: op.value,
                  expiresAt: op.ttlMs === undefined ? undefined : clock.now() + op.ttlMs,
                })
              }
            } else {
              const result = await state
                .delete('p', op.key, { ifRevision: guard })
                .catch((e: unknown) => e)
              if (shouldFail) expect(CoreError.is(result, 'E_CONFLICT')).toBe(true)
              else {
                expect(result).toBe(live(op.key) !== undefined)
                model.delete(op.key)
              }
            }
          }
          await flush()
          for (const k of KEYS) {
            const entry = await state.get('p', k)
            expect(entry?.value, `value of ${k}`).toEqual(live(k)?.value)
            if (entry !== undefined) {
              expect(entry.revision).toBeGreaterThanOrEqual(lastRevision.get(k) ?? 0)
              lastRevision.set(k, entry.revision)
            }
          }
        }
        clock.tick(1000)
        await flush()
        const revisions = all.map((c) => c.revision)
        expect(new Set(revisions).size).toBe(revisions.length)
        for (const k of KEYS) {
          const changes = perKey.get(k) ?? []
          expectIncreasing(
            changes.map((c) => c.revision),
            k,
          )
          const entry = await state.get('p', k)
          const last = changes.at(-1)
          if (entry === undefined) expect(last === undefined || last.reason !== 'set').toBe(true)
          else
            expect(last).toMatchObject({
              reason: 'set',
              revision: entry.revision,
              value: entry.value,
            })
        }
        await state.close()
      }),
      { numRuns: 150 },
    )
  })

  it('keeps per-key revision order and call-order last-write-wins for concurrent writes, even with a backend answering out of order', async () => {
    type Write = { op: 'set'; key: string; value: number } | { op: 'delete'; key: string }
    const writeArb: fc.Arbitrary<Write> = fc.oneof(
      {
        weight: 4,
        arbitrary: fc.record({ op: fc.constant('set' as const), key, value: fc.integer() }),
      },
      { weight: 1, arbitrary: fc.record({ op: fc.constant('delete' as const), key }) },
    )
    await fc.assert(
      fc.asyncProperty(
        fc.array(writeArb, { maxLength: 40 }),
        fc.boolean(),
        async (writes, slowBackend) => {
          const { state, perKey } = setup(
            slowBackend ? outOfOrder(createMemoryStateBackend()) : undefined,
          )
          const expected = new Map<string, number | undefined>()
          await Promise.all(
            writes.map((w) => {
              expected.set(w.key, w.op === 'set' ? w.value : undefined)
              return w.op === 'set' ? state.set('p', w.key, w.value) : state.delete('p', w.key)
            }),
          )
          await flush()
          for (const k of KEYS) {
            expect((await state.get('p', k))?.value).toEqual(expected.get(k))
            expectIncreasing(
              (perKey.get(k) ?? []).map((c) => c.revision),
              k,
            )
          }
          await state.close()
        },
      ),
      { numRuns: 100 },
    )
  })
})

/** Each call commits at once but answers after a random number of microtask turns. */
function outOfOrder(backend: StateBackend): StateBackend {
  const later =
    <A extends unknown[], R>(fn: (...args: A) => R | Promise<R>) =>
    async (...args: A): Promise<R> => {
      const result = await fn(...args)
      for (let i = Math.floor(Math.random() * 5); i > 0; i--) await Promise.resolve()
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
