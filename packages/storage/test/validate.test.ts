import { CoreError } from '@core/contracts'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { assertStorageKey, MAX_KEY_LENGTH } from '../src/index.js'

const refused = (key: unknown): boolean => {
  try {
    assertStorageKey(key)
    return false
  } catch (error) {
    expect(CoreError.is(error, 'E_VALIDATION')).toBe(true)
    return true
  }
}

describe('assertStorageKey', () => {
  it('accepts dotted keys of any script, digits, emoji and common punctuation', () => {
    for (const key of [
      'a',
      'devices.0x00158d.état',
      '日本語',
      '👩‍👩‍👧',
      'user:42@home',
      'a-b_c~d+e=f%g,h#i',
      'k'.repeat(MAX_KEY_LENGTH),
    ]) {
      expect(refused(key)).toBe(false)
    }
  })

  it('refuses path-like, empty, long, control, white-space and unpaired-surrogate keys', () => {
    for (const key of [
      '../x',
      '',
      '.',
      '..',
      'a..b',
      '.a',
      'a.',
      'a/b',
      'a\\b',
      'k'.repeat(200),
      'a\u0000b',
      'a b',
      '\t',
      '\uDBFF',
      'x\u202Ey',
      1,
      null,
    ]) {
      expect(refused(key)).toBe(true)
    }
  })

  it('names the key, the namespace and the rule in the error', () => {
    try {
      assertStorageKey('../x', 'lights')
      expect.unreachable()
    } catch (error) {
      expect((error as CoreError).message).toMatch(
        /Invalid storage key "\.\.\/x" in namespace "lights"/,
      )
      expect((error as CoreError).details).toMatchObject({ key: '../x', namespace: 'lights' })
    }
  })

  it('accepts every well-formed key made of allowed characters and refuses any with "/"', () => {
    const segment = fc.string({
      unit: fc.constantFrom('a', 'Z', '9', '_', '-', 'é', '中', '😀', ':', '@'),
      minLength: 1,
      maxLength: 10,
    })
    fc.assert(
      fc.property(fc.array(segment, { minLength: 1, maxLength: 5 }), (segments) => {
        const key = segments.join('.')
        expect(refused(key)).toBe([...key].length > MAX_KEY_LENGTH)
        expect(refused(`${key}/x`)).toBe(true)
      }),
    )
  })
})
