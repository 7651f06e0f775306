import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { CORE_ERROR_CODES, CoreError, toCoreError } from '../src/index.js'

describe('CoreError', () => {
  it('should carry code, message, details and cause', () => {
    const cause = new Error('disk full')
    const err = new CoreError('E_STORAGE', 'Could not write "a"', { cause, details: { key: 'a' } })
    expect(err).toBeInstanceOf(Error)
    expect(err.name).toBe('CoreError')
    expect(err.code).toBe('E_STORAGE')
    expect(err.message).toBe('Could not write "a"')
    expect(err.details).toEqual({ key: 'a' })
    expect(err.cause).toBe(cause)
  })

  it('should be recognised by CoreError.is with and without a code, across copies', () => {
    const err = new CoreError('E_TIMEOUT', 'late')
    expect(CoreError.is(err)).toBe(true)
    expect(CoreError.is(err, 'E_TIMEOUT')).toBe(true)
    expect(CoreError.is(err, 'E_CONFLICT')).toBe(false)
    // an error from another copy of the package: same name and code, different class
    const foreign = Object.assign(new Error('x'), { name: 'CoreError', code: 'E_TIMEOUT' })
    expect(CoreError.is(foreign, 'E_TIMEOUT')).toBe(true)
    expect(CoreError.is(new Error('x'))).toBe(false)
    expect(CoreError.is({ name: 'CoreError', code: 'E_NOPE' })).toBe(false)
    expect(CoreError.is(null)).toBe(false)
  })

  it('should round-trip through toJSON and fromJSON with its cause', () => {
    const inner = new CoreError('E_UNAVAILABLE', 'broker down')
    const err = new CoreError('E_HANDLER', 'call failed', { cause: inner, details: { n: 1 } })
    const json = JSON.parse(JSON.stringify(err))
    expect(json).toEqual({
      name: 'CoreError',
      code: 'E_HANDLER',
      message: 'call failed',
      details: { n: 1 },
      cause: { name: 'CoreError', code: 'E_UNAVAILABLE', message: 'broker down' },
    })
    const back = CoreError.fromJSON(json)
    expect(CoreError.is(back, 'E_HANDLER')).toBe(true)
    expect(back.details).toEqual({ n: 1 })
    expect(CoreError.is(back.cause, 'E_UNAVAILABLE')).toBe(true)
  })

  it('should keep a plain Error cause as name and message only', () => {
    const err = new CoreError('E_HANDLER', 'x', { cause: new TypeError('bad') })
    expect(err.toJSON().cause).toEqual({ name: 'TypeError', message: 'bad' })
    const back = CoreError.fromJSON(err.toJSON())
    expect((back.cause as Error).name).toBe('TypeError')
    expect((back.cause as Error).message).toBe('bad')
  })

  it('should turn anything unreadable into E_INTERNAL', () => {
    const err = CoreError.fromJSON('boom')
    expect(err.code).toBe('E_INTERNAL')
    expect(err.details).toEqual({ received: 'boom' })
  })

  it('should map an unknown code to E_INTERNAL', () => {
    // @ts-expect-error: deliberately wrong code
    expect(new CoreError('E_WHAT', 'x').code).toBe('E_INTERNAL')
  })

  it('toCoreError passes a CoreError through and wraps anything else with its cause', () => {
    const ce = new CoreError('E_CONFLICT', 'taken')
    expect(toCoreError(ce, 'E_HANDLER', 'x')).toBe(ce)
    const raw = new RangeError('nope')
    const wrapped = toCoreError(raw, 'E_HANDLER', 'Handler of "a.b" failed')
    expect(wrapped.code).toBe('E_HANDLER')
    expect(wrapped.message).toBe('Handler of "a.b" failed: nope')
    expect(wrapped.cause).toBe(raw)
    expect(toCoreError('text', 'E_HANDLER', 'x').message).toBe('x: text')
  })
})

describe('ERRORS.md catalogue', () => {
  it('should have one row per code and no row that is not a code', () => {
    const md = readFileSync(new URL('../ERRORS.md', import.meta.url), 'utf8')
    const rows = [...md.matchAll(/^\| `(E_[A-Z_]+)`\s*\|/gm)].map((m) => m[1])
    expect([...rows].sort()).toEqual([...CORE_ERROR_CODES].sort())
    expect(new Set(rows).size).toBe(rows.length)
  })
})
