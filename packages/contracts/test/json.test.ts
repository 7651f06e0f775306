import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { CoreError, cloneJson } from '../src/index.js'

function err(fn: () => unknown): CoreError {
  try {
    fn()
  } catch (e) {
    if (CoreError.is(e)) return e
    throw e
  }
  throw new Error('expected a CoreError')
}

describe('cloneJson', () => {
  it('should copy JSON values deeply', () => {
    const value = { a: [1, 'x', { b: true, c: null }], d: { e: 1.5 } }
    const copy = cloneJson(value)
    expect(copy).toEqual(value)
    value.a.push(2)
    value.d.e = 9
    expect(copy).toEqual({ a: [1, 'x', { b: true, c: null }], d: { e: 1.5 } })
  })

  it('should equal a JSON round trip for any JSON value (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(cloneJson(value)).toEqual(JSON.parse(JSON.stringify(value)))
      }),
    )
  })

  it('should keep __proto__ and constructor as plain data without touching prototypes', () => {
    const input = JSON.parse('{"__proto__": {"polluted": true}, "constructor": {"prototype": 1}}')
    const copy = cloneJson(input) as Record<string, unknown>
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype)
    expect(Object.keys(copy).sort()).toEqual(['__proto__', 'constructor'])
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    expect(JSON.stringify(copy)).toBe(
      '{"__proto__":{"polluted":true},"constructor":{"prototype":1}}',
    )
  })

  it('should refuse what JSON cannot carry, naming the path', () => {
    expect(err(() => cloneJson({ a: () => 1 })).details).toEqual({ path: '/a' })
    expect(err(() => cloneJson({ a: [1, 2n] })).details).toEqual({ path: '/a/1' })
    expect(err(() => cloneJson(Symbol('x'))).code).toBe('E_VALIDATION')
    expect(err(() => cloneJson(Number.NaN)).code).toBe('E_VALIDATION')
    expect(err(() => cloneJson({ x: Number.POSITIVE_INFINITY })).code).toBe('E_VALIDATION')
    expect(err(() => cloneJson(undefined)).code).toBe('E_VALIDATION')
    expect(err(() => cloneJson(new Map())).message).toContain('Map')
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    expect(err(() => cloneJson(cyclic)).message).toContain('cycle')
  })

  it('should allow shared (non-cyclic) references and drop undefined properties', () => {
    const shared = { x: 1 }
    expect(cloneJson({ a: shared, b: shared, c: undefined })).toEqual({ a: { x: 1 }, b: { x: 1 } })
    expect(cloneJson([undefined])).toEqual([null])
  })

  it('should use toJSON for Date and similar', () => {
    expect(cloneJson({ at: new Date(0) })).toEqual({ at: '1970-01-01T00:00:00.000Z' })
  })

  it('should refuse nesting deeper than the limit', () => {
    let deep: unknown = 1
    for (let i = 0; i < 70; i++) deep = [deep]
    expect(err(() => cloneJson(deep)).message).toContain('deeper than 64')
  })
})
