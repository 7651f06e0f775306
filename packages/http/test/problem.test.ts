import { CORE_ERROR_CODES, CoreError, validationError } from '@core/contracts'
import { describe, expect, it } from 'vitest'
import { HIDDEN_CODES, PROBLEM_TYPE_BASE, problemFromError, STATUS_BY_CODE } from '../src/index.js'

describe('problemFromError', () => {
  it('maps each code to its status, with a type URI and a title per code', () => {
    const expected: Record<string, number> = {
      E_VALIDATION: 400,
      E_UNAUTHENTICATED: 401,
      E_FORBIDDEN: 403,
      E_NOT_FOUND: 404,
      E_SERVICE_NOT_FOUND: 404,
      E_CONFLICT: 409,
      E_UNAVAILABLE: 503,
      E_TIMEOUT: 504,
    }
    const titles = new Set<string>()
    for (const code of CORE_ERROR_CODES) {
      const p = problemFromError(new CoreError(code, `m ${code}`))
      expect(p).toMatchObject({
        type: `${PROBLEM_TYPE_BASE}${code}`,
        status: expected[code] ?? 500,
        detail: HIDDEN_CODES.includes(code)
          ? expect.not.stringContaining(`m ${code}`)
          : `m ${code}`,
        code,
      })
      expect(STATUS_BY_CODE[code] ?? 500).toBe(expected[code] ?? 500)
      titles.add(p.title)
    }
    expect(titles.size).toBe(CORE_ERROR_CODES.length)
  })

  it('puts validation issues in errors and other details in details', () => {
    const err = validationError(
      'params of "x.y"',
      [{ instancePath: '/on', keyword: 'type', message: 'must be boolean' }],
      { service: 'x.y' },
    )
    expect(problemFromError(err, { instance: '/api/v1/services/x.y' })).toEqual({
      type: `${PROBLEM_TYPE_BASE}E_VALIDATION`,
      title: 'Invalid request',
      status: 400,
      detail: err.message,
      code: 'E_VALIDATION',
      instance: '/api/v1/services/x.y',
      errors: [{ path: '/on', keyword: 'type', message: 'must be boolean' }],
      details: { service: 'x.y' },
    })
  })

  it('hides the message of an unexpected error behind a 500 E_INTERNAL', () => {
    const p = problemFromError(new TypeError('secret connection string leaked'))
    expect(p).toMatchObject({ status: 500, code: 'E_INTERNAL' })
    expect(p.detail).not.toContain('secret')
    expect(problemFromError('a string').status).toBe(500)
    expect(problemFromError(undefined).status).toBe(500)
  })

  it("maps Fastify's own errors to problems with their status", () => {
    const fst = (code: string, statusCode: number, extra: object = {}) =>
      Object.assign(new Error(code), { code, statusCode, ...extra })
    expect(problemFromError(fst('FST_ERR_CTP_BODY_TOO_LARGE', 413))).toMatchObject({
      status: 413,
      code: 'E_VALIDATION',
    })
    expect(problemFromError(fst('FST_ERR_CTP_INVALID_MEDIA_TYPE', 415))).toMatchObject({
      status: 415,
      code: 'E_VALIDATION',
    })
    expect(problemFromError(fst('FST_ERR_CTP_INVALID_JSON_BODY', 400)).status).toBe(400)
    expect(problemFromError(fst('FST_ERR_NOT_FOUND', 404))).toMatchObject({
      status: 404,
      code: 'E_NOT_FOUND',
    })
    const schema = problemFromError(
      fst('FST_ERR_VALIDATION', 400, {
        validation: [{ instancePath: '/value', keyword: 'required', message: 'is required' }],
        validationContext: 'body',
      }),
    )
    expect(schema).toMatchObject({ status: 400, code: 'E_VALIDATION' })
    expect(schema.errors).toEqual([{ path: '/value', keyword: 'required', message: 'is required' }])
    expect(problemFromError(fst('FST_ERR_SOMETHING_NEW', 422)).status).toBe(422)
    expect(problemFromError(fst('FST_ERR_BROKEN', 500)).code).toBe('E_INTERNAL')
  })
})
