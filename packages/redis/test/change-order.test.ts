import { type StateChange, silentLogger } from '@core/contracts'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createChangeOrder } from '../src/change-order.js'

/**
 * A model of one hub next to Redis: this hub's writes (one in flight per key at a time, as the
 * engine serialises them), other hubs' writes, the replies (in any order, some lost) and the
 * stream reader (in stream order, starting at any time), interleaved as fast-check chooses.
 */
interface Executed {
  revision: number
  key: string
  own: boolean
  /** The key's revision before this change (its entry), 0 when it had none. */
  prior: number
  reason: 'set' | 'delete'
}

const KEYS = ['a', 'b', 'c'] as const

type Step =
  | { kind: 'begin'; key: number; del: boolean }
  | { kind: 'execute'; pick: number }
  | { kind: 'remote'; key: number; del: boolean }
  | { kind: 'reply'; pick: number; lost: boolean }
  | { kind: 'read'; count: number }
  | { kind: 'start' }

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('begin' as const), key: fc.nat(2), del: fc.boolean() }),
  fc.record({ kind: fc.constant('execute' as const), pick: fc.nat(5) }),
  fc.record({ kind: fc.constant('remote' as const), key: fc.nat(2), del: fc.boolean() }),
  fc.record({
    kind: fc.constant('reply' as const),
    pick: fc.nat(5),
    lost: fc.nat(4).map((n) => n === 0),
  }),
  fc.record({ kind: fc.constant('read' as const), count: fc.integer({ min: 1, max: 4 }) }),
  fc.record({ kind: fc.constant('start' as const) }),
)

function simulate(steps: Step[]): {
  delivered: StateChange[]
  stream: Executed[]
  startedAt: number
  lostOwn: Set<number>
} {
  const delivered: StateChange[] = []
  const order = createChangeOrder({
    listener: (change) => delivered.push(change),
    logger: silentLogger,
  })
  const stream: Executed[] = []
  const entry = new Map<string, number>()
  /** Own writes begun, not executed yet. */
  const begun: { key: string; del: boolean }[] = []
  /** Own writes executed, reply not handled yet. */
  const unanswered: Executed[] = []
  const inFlight = new Set<string>()
  const lostOwn = new Set<number>()
  let read = 0
  let startedAt = -1

  const execute = (key: string, own: boolean, del: boolean): Executed | undefined => {
    const prior = entry.get(key) ?? 0
    if (del && prior === 0) return undefined
    const done: Executed = {
      revision: stream.length + 1,
      key,
      own,
      prior,
      reason: del ? 'delete' : 'set',
    }
    stream.push(done)
    if (del) entry.delete(key)
    else entry.set(key, done.revision)
    return done
  }
  const change = (e: Executed): StateChange => ({
    namespace: 'n',
    key: e.key,
    revision: e.revision,
    reason: e.reason,
  })
  const readOne = (): void => {
    const e = stream[read++] as Executed
    order.streamed(e.revision, 'n', e.key, () => change(e))
  }

  const run = (s: Step): void => {
    switch (s.kind) {
      case 'begin': {
        const key = KEYS[s.key] as string
        if (inFlight.has(key)) return
        inFlight.add(key)
        order.begin('n', key)
        begun.push({ key, del: s.del })
        return
      }
      case 'execute': {
        const at = s.pick % Math.max(1, begun.length)
        const write = begun.splice(at, 1)[0]
        if (write === undefined) return
        const done = execute(write.key, true, write.del)
        if (done === undefined) {
          // A delete of an absent key: answered with no change.
          inFlight.delete(write.key)
          order.end('n', write.key, [])
          return
        }
        unanswered.push(done)
        return
      }
      case 'remote':
        execute(KEYS[s.key] as string, false, s.del)
        return
      case 'reply': {
        const at = s.pick % Math.max(1, unanswered.length)
        const done = unanswered.splice(at, 1)[0]
        if (done === undefined) return
        inFlight.delete(done.key)
        if (s.lost) {
          lostOwn.add(done.revision)
          order.end('n', done.key, undefined)
        } else {
          order.end('n', done.key, [{ change: change(done), prior: done.prior }])
        }
        return
      }
      case 'read':
        if (startedAt < 0) return
        for (let i = 0; i < s.count && read < stream.length; i++) readOne()
        order.settle()
        return
      case 'start':
        if (startedAt >= 0) return
        startedAt = stream.length
        read = stream.length
        order.start(startedAt)
        return
    }
  }

  for (const s of steps) run(s)
  // Drain: every begun write executes and is answered, the reader reads to the end.
  run({ kind: 'start' })
  while (begun.length > 0) run({ kind: 'execute', pick: 0 })
  while (unanswered.length > 0) run({ kind: 'reply', pick: 0, lost: false })
  run({ kind: 'read', count: Number.MAX_SAFE_INTEGER })
  return { delivered, stream, startedAt, lostOwn }
}

describe('change order of one hub', () => {
  it('delivers every change once, each key in revision order, whatever the interleaving', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 120 }), (steps) => {
        const { delivered, stream, startedAt, lostOwn } = simulate(steps)
        const revisions = delivered.map((c) => c.revision)
        expect(new Set(revisions).size).toBe(revisions.length)
        for (const key of KEYS) {
          const perKey = delivered.filter((c) => c.key === key).map((c) => c.revision)
          expect(perKey).toEqual([...perKey].sort((x, y) => x - y))
        }
        // Expected: everything after the reader's start; before it, own answered writes only.
        const expected = stream
          .filter((e) => e.revision > startedAt || (e.own && !lostOwn.has(e.revision)))
          .map((e) => e.revision)
        expect([...revisions].sort((x, y) => x - y)).toEqual(expected)
      }),
      { numRuns: 2_000 },
    )
  })

  it('delivers an own change at once when the key is up to date, before the reader gets there', () => {
    const delivered: StateChange[] = []
    const order = createChangeOrder({ listener: (c) => delivered.push(c), logger: silentLogger })
    order.start(10)
    const change = (revision: number): StateChange => ({
      namespace: 'n',
      key: 'k',
      revision,
      reason: 'set',
      value: revision,
    })
    order.begin('n', 'k')
    order.end('n', 'k', [{ change: change(11), prior: 0 }])
    expect(delivered.map((c) => c.revision)).toEqual([11])
    // Other writes (12, 13) not read yet: 14 replaced 11, which this hub has delivered.
    order.begin('n', 'k')
    order.end('n', 'k', [{ change: change(14), prior: 11 }])
    expect(delivered.map((c) => c.revision)).toEqual([11, 14])
    // A key's own change after an unread change of another hub is held until it is read.
    order.begin('n', 'k')
    order.end('n', 'k', [{ change: change(16), prior: 15 }])
    expect(order.held()).toBe(1)
    for (const revision of [11, 12, 13, 14]) order.streamed(revision, 'n', 'x', () => undefined)
    order.streamed(15, 'n', 'k', () => change(15))
    expect(delivered.map((c) => c.revision)).toEqual([11, 14, 15, 16])
    order.streamed(16, 'n', 'k', () => change(16))
    expect(delivered.map((c) => c.revision)).toEqual([11, 14, 15, 16])
    expect(order.held()).toBe(0)
  })
})
