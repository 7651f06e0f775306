import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { holds, resolveParams, sameJson, valueAt } from '../src/conditions.js'
import type { Condition } from '../src/schemas.js'

const event = {
  type: 'devices.door.state-changed',
  subject: 'door',
  data: { id: 'door', changed: { contact: false }, level: 7, tags: ['a', 'b'], nothing: null },
}

describe('conditions', () => {
  it('reads dot paths through objects and array indexes, own properties only', () => {
    expect(valueAt(event, 'data.changed.contact')).toBe(false)
    expect(valueAt(event, 'data.tags.1')).toBe('b')
    expect(valueAt(event, 'data.nothing')).toBeNull()
    for (const missing of [
      'data.tags.2',
      'data.tags.x',
      'data.nope',
      'data.__proto__',
      'data.constructor',
      'subject.length',
    ]) {
      expect(typeof valueAt(event, missing), missing).toBe('symbol')
    }
  })

  it('evaluates each operator on the value at the path', () => {
    const yes: Condition[] = [
      { path: 'data.changed.contact', op: 'eq', value: false },
      { path: 'data.changed', op: 'eq', value: { contact: false } },
      { path: 'data.id', op: 'ne', value: 'window' },
      { path: 'data.level', op: 'gt', value: 6 },
      { path: 'data.level', op: 'gte', value: 7 },
      { path: 'data.level', op: 'lt', value: 8 },
      { path: 'data.level', op: 'lte', value: 7 },
      { path: 'subject', op: 'gt', value: 'a' },
      { path: 'data.id', op: 'in', value: ['window', 'door'] },
      { path: 'data.nothing', op: 'exists' },
      { path: 'data.nope', op: 'exists', value: false },
    ]
    for (const c of yes) expect(holds(c, event), JSON.stringify(c)).toBe(true)
    const no: Condition[] = [
      { path: 'data.changed.contact', op: 'eq', value: 0 },
      { path: 'data.level', op: 'gt', value: '6' },
      { path: 'data.tags', op: 'lt', value: 3 },
      { path: 'data.nope', op: 'ne', value: 1 },
      { path: 'data.nope', op: 'eq', value: null },
      { path: 'data.id', op: 'in', value: ['window'] },
      { path: 'data.id', op: 'exists', value: false },
    ]
    for (const c of no) expect(holds(c, event), JSON.stringify(c)).toBe(false)
  })

  it('replaces { $from } objects by event values, anywhere in the params', () => {
    expect(
      resolveParams(
        {
          a: { $from: 'data.id' },
          b: [{ $from: 'data.level' }],
          c: { $from: 'x.y' },
          d: { $from: 'data.id', other: 1 },
        },
        event,
      ),
    ).toEqual({
      a: 'door',
      b: [7],
      c: null,
      d: { $from: 'data.id', other: 1 },
    })
  })

  it('compares JSON values deeply, whatever the member order', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const copy = JSON.parse(JSON.stringify(v)) as unknown
        expect(sameJson(v, copy)).toBe(true)
        expect(sameJson({ x: v, y: 1 }, { y: 1, x: copy })).toBe(true)
        expect(sameJson([v], [v, v])).toBe(false)
      }),
    )
  })
})
