import { CoreError } from '@core/contracts'
import { describe, expect, it } from 'vitest'
import { assertQuantity, compareQuantities, parseQuantity } from '../src/index.js'

const q = (text: string) => {
  const value = parseQuantity(text)
  if (value === undefined) throw new Error(`${text} should parse`)
  return value
}

describe('Kubernetes quantities', () => {
  it('should read binary, decimal SI and exponent suffixes exactly', () => {
    expect(compareQuantities(q('500m'), q('0.5'))).toBe(0)
    expect(compareQuantities(q('5e-1'), q('0.5'))).toBe(0)
    expect(compareQuantities(q('1Ki'), q('1024'))).toBe(0)
    expect(compareQuantities(q('2k'), q('2000'))).toBe(0)
    expect(compareQuantities(q('1e3'), q('1k'))).toBe(0)
    expect(compareQuantities(q('4Gi'), q('4G'))).toBe(1)
    expect(compareQuantities(q('-1'), q('1n'))).toBe(-1)
    expect(compareQuantities(q('.5'), q('1'))).toBe(-1)
    expect(compareQuantities(q('1.5Gi'), q('1536Mi'))).toBe(0)
  })

  it('should refuse what is not a quantity', () => {
    for (const text of ['', 'abc', '4 GB', '4gb', '1e', '1e999999', 'Gi', '1.2.3']) {
      expect(parseQuantity(text), text).toBeUndefined()
    }
    try {
      assertQuantity('4 GB', '/spec/resources/memory')
      throw new Error('expected a refusal')
    } catch (error) {
      expect(CoreError.is(error, 'E_VALIDATION')).toBe(true)
      expect((error as CoreError).message).toContain('/spec/resources/memory')
    }
  })
})
