import { CORE_ERROR_CODES, CoreError } from '@core/contracts'
import { describe, expect, it } from 'vitest'
import { EXIT_CODES, exitCodeOf } from '../src/index.js'

describe('EXIT_CODES', () => {
  it('gives every CoreError code an exit code from 1 to 7', () => {
    for (const code of CORE_ERROR_CODES) {
      expect(EXIT_CODES[code], code).toBeGreaterThanOrEqual(1)
      expect(EXIT_CODES[code], code).toBeLessThanOrEqual(7)
    }
    expect(Object.keys(EXIT_CODES).sort()).toEqual([...CORE_ERROR_CODES].sort())
  })

  it('maps the codes as the README documents them', () => {
    expect(EXIT_CODES).toMatchObject({
      E_INTERNAL: 1,
      E_HANDLER: 1,
      E_VALIDATION: 2,
      E_NOT_FOUND: 3,
      E_SERVICE_NOT_FOUND: 3,
      E_UNAUTHENTICATED: 4,
      E_FORBIDDEN: 4,
      E_CONFLICT: 5,
      E_TIMEOUT: 6,
      E_UNAVAILABLE: 7,
    })
  })

  it('is frozen', () => {
    expect(Object.isFrozen(EXIT_CODES)).toBe(true)
  })
})

describe('exitCodeOf', () => {
  it('maps a CoreError by its code', () => {
    expect(exitCodeOf(new CoreError('E_CONFLICT', 'revision 3 expected'))).toBe(5)
    expect(exitCodeOf(new CoreError('E_UNAVAILABLE', 'hub down'))).toBe(7)
  })

  it('maps a CoreError from another copy of contracts (matched by name and code)', () => {
    const foreign = Object.assign(new Error('nope'), { name: 'CoreError', code: 'E_FORBIDDEN' })
    expect(exitCodeOf(foreign)).toBe(4)
  })

  it('maps anything else to 1', () => {
    expect(exitCodeOf(new Error('boom'))).toBe(1)
    expect(exitCodeOf('boom')).toBe(1)
    expect(exitCodeOf({ name: 'CoreError', code: 'E_MADE_UP' })).toBe(1)
  })
})
