import { describe, expect, it } from 'vitest'
import { createStateEngine } from '../src/index.js'
import { flush, harness } from './helpers/setup.js'
import { rejection, thrown } from './state-engine-helpers.js'

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
