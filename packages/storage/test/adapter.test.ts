import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { compareKeys, prefixEnd } from '../src/index.js'

const utf8Order = (a: string, b: string): number =>
  Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))
const wellFormed = fc.string({ unit: 'grapheme', maxLength: 12 })

describe('compareKeys', () => {
  it('orders like the UTF-8 bytes (Unicode code points), unlike plain UTF-16 comparison', () => {
    fc.assert(
      fc.property(wellFormed, wellFormed, (a, b) => {
        expect(Math.sign(compareKeys(a, b))).toBe(Math.sign(utf8Order(a, b)))
      }),
    )
    expect(compareKeys('\u{1F600}', '\uFFFD')).toBeGreaterThan(0)
    expect('\u{1F600}' < '\uFFFD').toBe(true)
  })

  it('returns 0 only for equal strings', () => {
    expect(compareKeys('abc', 'abc')).toBe(0)
    expect(compareKeys('ab', 'abc')).toBeLessThan(0)
  })
})

describe('prefixEnd', () => {
  it('bounds exactly the strings that start with the prefix', () => {
    fc.assert(
      fc.property(
        wellFormed.filter((p) => p !== ''),
        wellFormed,
        (prefix, s) => {
          const end = prefixEnd(prefix)
          const inRange =
            compareKeys(s, prefix) >= 0 && (end === undefined || compareKeys(s, end) < 0)
          expect(inRange).toBe(s.startsWith(prefix))
          const longer = prefix + s
          expect(end === undefined || compareKeys(longer, end) < 0).toBe(true)
        },
      ),
    )
  })

  it('steps over the surrogate range and carries past U+10FFFF', () => {
    expect(prefixEnd('room.')).toBe('room/')
    expect(prefixEnd('a\uD7FF')).toBe('a\uE000')
    expect(prefixEnd('a\u{10FFFF}')).toBe('b')
    expect(prefixEnd('\u{10FFFF}')).toBeUndefined()
    expect(prefixEnd('')).toBeUndefined()
  })
})
