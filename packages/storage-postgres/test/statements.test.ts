import { compareKeys } from '@core/storage'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { buildQuery, prefixEnd } from '../src/statements.js'

/** What `key >= prefix and key < prefixEnd(prefix)` selects, in code point order. */
function inRange(key: string, prefix: string): boolean {
  const end = prefixEnd(prefix)
  return compareKeys(key, prefix) >= 0 && (end === undefined || compareKeys(key, end) < 0)
}

// Strings of whole code points (no lone surrogates), biased to the edges that matter.
const point = fc.oneof(
  fc.constantFrom(
    'a',
    'b',
    '\u007f',
    '\u0080',
    '\uD7FF',
    '\uE000',
    '\uFFFF',
    '\u{10000}',
    '\u{10FFFF}',
  ),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }),
)
const text = fc.array(point, { maxLength: 6 }).map((xs) => xs.join(''))

describe('prefixEnd', () => {
  it('bounds exactly the keys that start with the prefix (code point order)', () => {
    fc.assert(
      fc.property(text, text, text, (prefix, rest, other) => {
        expect(inRange(prefix + rest, prefix)).toBe(true)
        expect(inRange(other, prefix)).toBe(other.startsWith(prefix))
      }),
      { numRuns: 2000 },
    )
  })

  it('steps over the surrogate range and the last code point', () => {
    expect(prefixEnd('room.')).toBe('room/')
    expect(prefixEnd('a\uD7FF')).toBe('a\uE000')
    expect(prefixEnd('a\u{10FFFF}')).toBe('b')
    expect(prefixEnd('\u{10FFFF}\u{10FFFF}')).toBeUndefined()
    expect(prefixEnd('')).toBeUndefined()
  })
})

describe('buildQuery', () => {
  it('binds every operand and inlines only checked path segments', () => {
    const built = buildQuery('public', 'app', {
      where: [{ path: ['note'], op: 'eq', value: "'; drop table x; --" }],
      limit: 10,
    })
    expect(built.text).not.toContain('drop table')
    expect(built.params).toContain(JSON.stringify("'; drop table x; --"))
  })

  it('refuses a path segment the contract does not allow, rather than splice it into SQL', () => {
    expect(() =>
      buildQuery('public', 'app', { where: [{ path: ["a'}"], op: 'eq', value: 1 }], limit: 1 }),
    ).toThrow(/Invalid query path segment/)
  })
})
