import { describe, expect, it } from 'vitest'
import { createCodec } from '../../src/isolation/codec.js'

const codec = createCodec()
const noFunction = (): never => {
  throw new Error('no function expected')
}
const noSignal = (): never => {
  throw new Error('no signal expected')
}

describe('isolation codec: plain values', () => {
  it('sends a deep-frozen plain value as it is, and copies one that can still change', () => {
    const frozen = Object.freeze({ a: 1, list: Object.freeze([Object.freeze({ b: 'x' })]) })
    expect(codec.encode(frozen, noFunction, noSignal)).toEqual({ v: frozen })
    expect(codec.encode(frozen, noFunction, noSignal).v).toBe(frozen)
    const open = { a: 1, inner: { b: [2] } }
    const sent = codec.encode(open, noFunction, noSignal)
    expect(sent).toEqual({ v: open })
    expect(sent.v).not.toBe(open)
    // frozen outside, not inside: copied too
    const half = Object.freeze({ inner: { b: 1 } })
    expect(codec.encode(half, noFunction, noSignal).v).not.toBe(half)
  })

  it('leaves functions, errors and cycles to the full walk', () => {
    const fn = (): number => 1
    const refs: unknown[] = []
    const encoded = codec.encode({ fn, e: new Error('x') }, (f) => refs.push(f), noSignal)
    expect(refs).toEqual([fn])
    expect(encoded.x?.map(([path, kind]) => [path, kind])).toEqual([
      [['fn'], 'f'],
      [['e'], 'e'],
    ])
    const cycle: Record<string, unknown> = { n: 1 }
    cycle.self = cycle
    const out = codec.encode(cycle, noFunction, noSignal).v as Record<string, unknown>
    expect(out.self).toBe(out)
  })
})

describe('isolation codec: the table of calls in flight', () => {
  it('keeps an id whose slot a longer call holds, and forgets it on delete', () => {
    const table = codec.idTable<string>()
    table.set(5, 'long call')
    table.set(5 + 1024, 'same slot')
    expect(table.get(5)).toBe('long call')
    expect(table.get(5 + 1024)).toBe('same slot')
    table.delete(5)
    // updating an id kept aside never leaves a second copy behind
    table.set(5 + 1024, 'updated')
    expect(table.get(5 + 1024)).toBe('updated')
    table.delete(5 + 1024)
    expect(table.has(5 + 1024)).toBe(false)
    expect(table.values()).toEqual([])
  })

  it('answers nothing for ids it never held, forged ones included', () => {
    const table = codec.idTable<string>()
    table.set(1, 'one')
    for (const id of [-1, 0, 1023, 1025, 2 ** 40 + 1, Number.NaN, 1.5])
      expect([table.has(id), table.get(id)]).toEqual([false, undefined])
    expect(table.values()).toEqual(['one'])
    table.clear()
    expect(table.has(1)).toBe(false)
  })
})
