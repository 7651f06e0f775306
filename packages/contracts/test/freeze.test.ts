import { describe, expect, it } from 'vitest'
import { CoreError, deepFreeze, toShareable } from '../src/index.js'

describe('deepFreeze', () => {
  it('should freeze nested objects and arrays in place and report them immutable', () => {
    const value = { a: { b: [1, { c: 2 }] } }
    expect(deepFreeze(value)).toBe(true)
    expect(Object.isFrozen(value.a.b[1])).toBe(true)
    expect(() => {
      ;(value.a.b as unknown[]).push(3)
    }).toThrow(TypeError)
  })

  it('should walk frozen objects too, since their children may be mutable', () => {
    const inner = { x: 1 }
    const outer = Object.freeze({ inner })
    expect(deepFreeze(outer)).toBe(true)
    expect(Object.isFrozen(inner)).toBe(true)
  })

  it('should follow cycles once', () => {
    const a: Record<string, unknown> = {}
    a.self = a
    a.list = [a]
    expect(deepFreeze(a)).toBe(true)
  })

  it('should report typed arrays, maps, sets and dates as not immutable', () => {
    expect(deepFreeze({ bytes: new Uint8Array(2) })).toBe(false)
    expect(deepFreeze([new Map()])).toBe(false)
    expect(deepFreeze({ when: new Date() })).toBe(false)
    expect(deepFreeze(new Set())).toBe(false)
    expect(deepFreeze('text')).toBe(true)
  })

  it('should reach what a class instance hides behind non-enumerable keys, without running getters', () => {
    const hidden = { x: 1 }
    class Holder {}
    const value = new Holder()
    Object.defineProperty(value, 'hidden', { value: hidden, enumerable: false })
    let ran = false
    Object.defineProperty(value, 'lazy', {
      enumerable: true,
      get() {
        ran = true
        return {}
      },
    })
    deepFreeze(value)
    expect(Object.isFrozen(hidden)).toBe(true)
    expect(ran).toBe(false)
  })
})

describe('toShareable', () => {
  it('should return plain data itself, frozen', () => {
    const value = { on: true, levels: [1, 2] }
    expect(toShareable(value)).toBe(value)
    expect(Object.isFrozen(value.levels)).toBe(true)
  })

  it('should return a private copy of data holding binary contents', () => {
    const value = { bytes: new Uint8Array([1, 2]) }
    const shared = toShareable(value)
    expect(shared).not.toBe(value)
    shared.bytes[0] = 9
    expect(value.bytes[0]).toBe(1)
  })

  it('should refuse with E_VALIDATION what can be neither frozen nor copied', () => {
    let caught: unknown
    try {
      toShareable({ bytes: new Uint8Array(1), fn: () => 1 }, 'params of "a.b"')
    } catch (error) {
      caught = error
    }
    expect(CoreError.is(caught, 'E_VALIDATION')).toBe(true)
    expect((caught as Error).message).toContain('params of "a.b"')
  })
})
