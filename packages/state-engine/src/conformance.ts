/// <reference types="node" preserve="true" />
/**
 * The conformance suite of `@core/state-engine`, for authors of backends and adapters (vitest, an
 * optional peer dependency).
 *
 * @module @core/state-engine/conformance
 */
/**
 * The {@link StateBackend} contract as a test suite any backend can run: the in-memory backend
 * runs it in this package, `@core/redis` runs it against a real Redis. Import it from
 * `@core/state-engine/conformance` in a test file; it needs vitest.
 *
 * @packageDocumentation
 */
import { type CoreError, type StateChange, silentLogger } from '@core/contracts'
import { createEventBus } from '@core/event-bus'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createStateEngine } from './state-engine.js'
import type { StateBackend } from './types.js'

/** Options of {@link runStateBackendConformance}. @public */
export interface StateBackendConformanceOptions {
  /** Shown in the suite's name, e.g. `redis`. @defaultValue 'backend' */
  name?: string
  /**
   * Releases a backend after its test (closes connections, deletes its keys). Called once per
   * backend the factory made, after the test that used it.
   */
  dispose?: (backend: StateBackend) => void | Promise<void>
}

/**
 * Registers the state-backend conformance tests (vitest `describe`/`it`) for a backend factory.
 * Each test calls `makeBackend()` for a fresh, empty store whose revision counter starts at 0
 * (a Redis backend gets a new key prefix per call). The tests pass explicit `now` values (epoch
 * ms near 1,000), so a backend must take time from its arguments, not from a clock of its own,
 * and must not expire entries by itself while the suite runs.
 *
 * Checked: store-wide revisions starting at 1 and never reused; compare-and-set and
 * compare-and-delete; expired entries kept until `expire` (or a later write) removes them with
 * an `expired` change in revision order; stale expiries ignored; word-prefix `list`; and a
 * {@link createStateEngine} on the backend (values round-trip deep-frozen, `E_CONFLICT`,
 * change events in revision order).
 *
 * @param makeBackend - Returns a fresh backend (or a promise of one).
 * @param options - `name` for the suite, `dispose` to release each backend.
 * @see etcd v3 API `mod_revision` (the revision rules)
 * @example
 * ```ts
 * // test/conformance.test.ts
 * import { createMemoryStateBackend } from '@core/state-engine'
 * import { runStateBackendConformance } from '@core/state-engine/conformance'
 *
 * runStateBackendConformance(createMemoryStateBackend, { name: 'memory' })
 * ```
 * @public
 */
export function runStateBackendConformance(
  makeBackend: () => StateBackend | Promise<StateBackend>,
  options: StateBackendConformanceOptions = {},
): void {
  const now = 1_000
  const made: StateBackend[] = []
  const make = async (): Promise<StateBackend> => {
    const backend = await makeBackend()
    made.push(backend)
    return backend
  }

  describe(`state backend conformance: ${options.name ?? 'backend'}`, () => {
    afterEach(async () => {
      for (const backend of made.splice(0)) await options.dispose?.(backend)
    })

    it('assigns revisions from one store-wide counter, starting at 1', async () => {
      const b = await make()
      const r1 = await b.set('a', 'k', 1, { now })
      const r2 = await b.set('b', 'k', 1, { now })
      const r3 = await b.set('a', 'k', 2, { now })
      expect([r1.entry?.revision, r2.entry?.revision, r3.entry?.revision]).toEqual([1, 2, 3])
    })

    it('gives a delete its own revision and never reuses one after re-create', async () => {
      const b = await make()
      const set = await b.set('a', 'k', 1, { now })
      const del = await b.delete('a', 'k', { now })
      const again = await b.set('a', 'k', 1, { now })
      expect(untimed(del.changes, now)).toEqual([
        { namespace: 'a', key: 'k', previous: 1, revision: 2, reason: 'delete' },
      ])
      expect(again.entry?.revision).toBe(3)
      expect(again.changes[0]).not.toHaveProperty('previous')
      expect(set.entry?.revision).toBe(1)
    })

    it('reports the set change with the previous value it replaced', async () => {
      const b = await make()
      await b.set('a', 'k', 'x', { now })
      const result = await b.set('a', 'k', 'y', { now: now + 5, expiresAt: now + 100 })
      expect({ ...result, changes: untimed(result.changes, now + 5, now + 100) }).toEqual({
        ok: true,
        actual: 1,
        entry: { value: 'y', revision: 2, updatedAt: now + 5, expiresAt: now + 100 },
        changes: [
          { namespace: 'a', key: 'k', value: 'y', previous: 'x', revision: 2, reason: 'set' },
        ],
      })
    })

    it('round-trips JSON values of every kind', async () => {
      const b = await make()
      const values = [null, true, 0, -1.5, '', 'é ✓', [], {}, { a: [1, { b: null }], c: 'd' }]
      for (const [i, value] of values.entries()) await b.set('a', `k${i}`, value, { now })
      for (const [i, value] of values.entries()) {
        expect((await b.get('a', `k${i}`))?.value).toEqual(value)
      }
    })

    it('compares and sets: a mismatch writes nothing and reports the live revision', async () => {
      const b = await make()
      await b.set('a', 'k', 1, { now })
      expect(await b.set('a', 'k', 2, { now, ifRevision: 7 })).toEqual({
        ok: false,
        actual: 1,
        changes: [],
      })
      expect(await b.set('a', 'new', 2, { now, ifRevision: 3 })).toEqual({
        ok: false,
        actual: 0,
        changes: [],
      })
      expect((await b.get('a', 'k'))?.value).toBe(1)
      expect(await b.get('a', 'new')).toBeUndefined()
      expect((await b.set('a', 'k', 2, { now, ifRevision: 1 })).ok).toBe(true)
      expect((await b.set('a', 'other', 2, { now, ifRevision: 0 })).ok).toBe(true)
    })

    it('compares and deletes', async () => {
      const b = await make()
      await b.set('a', 'k', 1, { now })
      expect(await b.delete('a', 'k', { now, ifRevision: 9 })).toEqual({
        ok: false,
        actual: 1,
        changes: [],
      })
      expect((await b.delete('a', 'k', { now, ifRevision: 1 })).changes).toHaveLength(1)
      expect(await b.delete('a', 'k', { now })).toEqual({ ok: true, actual: 0, changes: [] })
    })

    it('keeps an expired entry until expire removes it, with an expired change', async () => {
      const b = await make()
      await b.set('a', 'k', 'v', { now, expiresAt: now + 10 })
      expect((await b.get('a', 'k'))?.value).toBe('v')
      expect((await b.expire('a', 'k', 1, now + 5)).changes).toEqual([])
      const result = await b.expire('a', 'k', 1, now + 10)
      expect(untimed(result.changes, now + 10)).toEqual([
        { namespace: 'a', key: 'k', previous: 'v', revision: 2, reason: 'expired' },
      ])
      expect(await b.get('a', 'k')).toBeUndefined()
      expect((await b.expire('a', 'k', 1, now + 10)).changes).toEqual([])
    })

    it('does not expire an entry written again since (a stale revision)', async () => {
      const b = await make()
      await b.set('a', 'k', 'old', { now, expiresAt: now + 10 })
      await b.set('a', 'k', 'new', { now, expiresAt: now + 10 })
      expect((await b.expire('a', 'k', 1, now + 10)).changes).toEqual([])
      expect((await b.get('a', 'k'))?.value).toBe('new')
    })

    it('drops the TTL of a key written again without one', async () => {
      const b = await make()
      await b.set('a', 'k', 'old', { now, expiresAt: now + 10 })
      await b.set('a', 'k', 'new', { now })
      expect(await b.get('a', 'k')).toEqual({ value: 'new', revision: 2, updatedAt: now })
    })

    it('sweeps an expired entry met by a write, reporting expired then the write, in revision order', async () => {
      const b = await make()
      await b.set('a', 'k', 'old', { now, expiresAt: now + 10 })
      const result = await b.set('a', 'k', 'new', { now: now + 10, ifRevision: 0 })
      expect(result.actual).toBe(0)
      expect(result.changes.map((c: StateChange) => [c.reason, c.revision])).toEqual([
        ['expired', 2],
        ['set', 3],
      ])
    })

    it('treats an expired entry as absent for a delete, reporting only its expiry', async () => {
      const b = await make()
      await b.set('a', 'k', 'v', { now, expiresAt: now + 10 })
      const result = await b.delete('a', 'k', { now: now + 10 })
      expect(result.actual).toBe(0)
      expect(result.changes.map((c) => c.reason)).toEqual(['expired'])
    })

    it('lists a namespace, whole or by word prefix', async () => {
      const b = await make()
      for (const key of ['x', 'x.y', 'xy', 'x-y', 'z']) await b.set('a', key, key, { now })
      await b.set('b', 'x', 0, { now })
      const keys = async (prefix?: string) => (await b.list('a', prefix)).map((i) => i.key).sort()
      expect(await keys()).toEqual(['x', 'x-y', 'x.y', 'xy', 'z'])
      expect(await keys('x')).toEqual(['x', 'x.y'])
      expect(await b.list('nobody')).toEqual([])
      await b.delete('a', 'x.y', { now })
      expect(await keys('x')).toEqual(['x'])
    })

    it('serves a state engine: deep-frozen values, conflicts, changes in revision order', async () => {
      const backend = await make()
      const bus = createEventBus({ logger: silentLogger })
      const state = createStateEngine({ bus, backend, logger: silentLogger })
      const seen: StateChange[] = []
      state.watch('lights', '#', (change) => {
        seen.push(change)
      })
      const first = await state.set('lights', 'kitchen', { on: true, level: [1, 2] })
      const got = await state.get<{ on: boolean; level: number[] }>('lights', 'kitchen')
      expect(got?.value).toEqual({ on: true, level: [1, 2] })
      expect(Object.isFrozen(got) && Object.isFrozen(got?.value.level)).toBe(true)
      const stale = await state
        .set('lights', 'kitchen', { on: false }, { ifRevision: first.revision + 100 })
        .catch((error: CoreError) => error)
      expect((stale as CoreError).code).toBe('E_CONFLICT')
      await state.set('lights', 'kitchen', { on: false }, { ifRevision: first.revision })
      expect(await state.delete('lights', 'kitchen')).toBe(true)
      await vi.waitFor(() => expect(seen.map((c) => c.reason)).toEqual(['set', 'set', 'delete']))
      const revisions = seen.map((c) => c.revision)
      expect([...revisions].sort((a, b) => a - b)).toEqual(revisions)
      await state.close()
    })
  })
}

/**
 * The changes without `updatedAt` and `expiresAt`, which a backend may leave for the engine to
 * fill in; where it reports them they must be the call's `now` and the new entry's expiry.
 */
function untimed(
  changes: readonly StateChange[],
  updatedAt: number,
  expiresAt?: number,
): StateChange[] {
  return changes.map(({ updatedAt: u, expiresAt: e, ...rest }) => {
    if (u !== undefined) expect(u).toBe(updatedAt)
    if (e !== undefined) expect(e).toBe(expiresAt)
    return rest
  })
}
