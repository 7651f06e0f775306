import { CoreError } from '@core/contracts'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { buildParams, parseJsonArgument, parseParam } from '../src/params.js'

function refusal(run: () => unknown): CoreError {
  try {
    run()
  } catch (error) {
    if (CoreError.is(error)) return error
    throw error
  }
  throw new Error('expected a CoreError')
}

describe('parseJsonArgument', () => {
  it('parses any JSON value', () => {
    expect(parseJsonArgument('{"on":true}', '<json>')).toEqual({ on: true })
    expect(parseJsonArgument('"hi"', '<json>')).toBe('hi')
    expect(parseJsonArgument('12', '<json>')).toBe(12)
  })

  it('refuses invalid JSON with E_VALIDATION naming the argument and what was received', () => {
    const err = refusal(() => parseJsonArgument('{on:true}', '<json>'))
    expect(err.code).toBe('E_VALIDATION')
    expect(err.message).toContain('<json> is not valid JSON')
    expect(err.message).toContain("'{on:true}'")
    expect(err.details).toMatchObject({ argument: '<json>' })
  })

  it('says "nothing" for an empty argument', () => {
    expect(refusal(() => parseJsonArgument('', '<json>')).message).toContain('got nothing')
  })
})

describe('parseParam', () => {
  it('parses the value as JSON when it parses, and keeps the text otherwise', () => {
    expect(parseParam('on=true')).toEqual({ path: ['on'], value: true })
    expect(parseParam('level=40')).toEqual({ path: ['level'], value: 40 })
    expect(parseParam('room=kitchen')).toEqual({ path: ['room'], value: 'kitchen' })
    expect(parseParam('id="12"')).toEqual({ path: ['id'], value: '12' })
    expect(parseParam('xs=[1,2]')).toEqual({ path: ['xs'], value: [1, 2] })
    expect(parseParam('empty=')).toEqual({ path: ['empty'], value: '' })
    expect(parseParam('eq=a=b')).toEqual({ path: ['eq'], value: 'a=b' })
  })

  it('splits a dotted key into a path', () => {
    expect(parseParam('color.r=255')).toEqual({ path: ['color', 'r'], value: 255 })
  })

  it('refuses a pair without "=" with E_VALIDATION', () => {
    const err = refusal(() => parseParam('on'))
    expect(err.code).toBe('E_VALIDATION')
    expect(err.message).toContain('--param "on" has no "="')
  })

  it('refuses empty keys and key segments', () => {
    expect(refusal(() => parseParam('=1')).code).toBe('E_VALIDATION')
    expect(refusal(() => parseParam('a..b=1')).code).toBe('E_VALIDATION')
    expect(refusal(() => parseParam('a.=1')).code).toBe('E_VALIDATION')
  })

  it('refuses keys that would reach a prototype', () => {
    for (const key of ['__proto__.polluted', 'a.constructor.prototype.x', 'prototype']) {
      expect(refusal(() => parseParam(`${key}=1`)).message).toContain('reserved key')
    }
  })
})

describe('buildParams', () => {
  it('returns {} with no JSON and no pairs, and the JSON as is without pairs', () => {
    expect(buildParams(undefined, [])).toEqual({})
    expect(buildParams([1, 2], [])).toEqual([1, 2])
    expect(buildParams('x', [])).toBe('x')
  })

  it('nests dotted keys and merges them into objects already there', () => {
    expect(
      buildParams({ room: 'hall', color: { g: 1 } }, ['on=true', 'color.r=255', 'color.b=0']),
    ).toEqual({ room: 'hall', on: true, color: { g: 1, r: 255, b: 0 } })
    expect(buildParams(undefined, ['a.b.c=1', 'a.b.d=2', 'a.e=3'])).toEqual({
      a: { b: { c: 1, d: 2 }, e: 3 },
    })
  })

  it('lets a later pair for the same key win', () => {
    expect(buildParams({ level: 10 }, ['level=20', 'level=30'])).toEqual({ level: 30 })
  })

  it('refuses a pair that nests under a value that is not an object', () => {
    const err = refusal(() => buildParams({ color: 'red' }, ['color.r=255']))
    expect(err.code).toBe('E_VALIDATION')
    expect(err.message).toContain('"color"')
    expect(refusal(() => buildParams(undefined, ['a=1', 'a.b=2'])).code).toBe('E_VALIDATION')
  })

  it('refuses pairs on top of JSON that is not an object', () => {
    expect(refusal(() => buildParams([1], ['a=1'])).message).toContain('object')
    expect(refusal(() => buildParams(null, ['a=1'])).code).toBe('E_VALIDATION')
  })

  it('never touches Object.prototype, even with __proto__ in the JSON', () => {
    const json = JSON.parse('{"__proto__":{"x":1}}')
    expect(refusal(() => buildParams(json, ['__proto__.polluted=1'])).code).toBe('E_VALIDATION')
    buildParams(json, ['y=1'])
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    expect(({} as Record<string, unknown>).x).toBeUndefined()
  })

  it('builds the same object as setting each key in turn (property)', () => {
    const word = fc.stringMatching(/^[a-z][a-z0-9_]{0,7}$/)
    const value = fc.jsonValue().filter((v) => JSON.stringify(v) !== undefined)
    fc.assert(
      fc.property(fc.dictionary(word, value, { maxKeys: 8 }), (flat) => {
        const pairs = Object.entries(flat).map(([k, v]) => `${k}=${JSON.stringify(v)}`)
        expect(buildParams(undefined, pairs)).toEqual(JSON.parse(JSON.stringify(flat)))
      }),
    )
  })

  it('nests two-level keys under their first word (property)', () => {
    const word = fc.stringMatching(/^[a-z]{1,6}$/)
    fc.assert(
      fc.property(
        word,
        fc.dictionary(word, fc.integer(), { minKeys: 1, maxKeys: 6 }),
        (head, inner) => {
          const pairs = Object.entries(inner).map(([k, v]) => `${head}.${k}=${v}`)
          expect(buildParams(undefined, pairs)).toEqual({ [head]: inner })
        },
      ),
    )
  })
})
