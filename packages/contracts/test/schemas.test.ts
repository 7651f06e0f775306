import { Ajv2020 } from 'ajv/dist/2020.js'
import addFormats from 'ajv-formats'
import { describe, expect, it } from 'vitest'
import {
  CLOUD_EVENT_REQUIRED_ATTRIBUTES,
  CloudEventSchema,
  nextTraceparent,
  parseTraceparent,
  ServiceDescriptorSchema,
  StateChangeSchema,
  validationError,
} from '../src/index.js'

const ajv = new Ajv2020({ allErrors: true, strict: false })
addFormats.default(ajv)

describe('CloudEventSchema (CloudEvents 1.0)', () => {
  const validate = ajv.compile(CloudEventSchema)
  const base = {
    specversion: '1.0',
    id: 'e1',
    source: '/plugins/devices',
    type: 'devices.light.changed',
  }

  it('should require exactly the CloudEvents required attributes', () => {
    expect(validate(base)).toBe(true)
    expect([...(CloudEventSchema.required as string[])].sort()).toEqual(
      [...CLOUD_EVENT_REQUIRED_ATTRIBUTES].sort(),
    )
    for (const attr of CLOUD_EVENT_REQUIRED_ATTRIBUTES) {
      const { [attr]: _, ...rest } = base as Record<string, unknown>
      expect(validate(rest)).toBe(false)
    }
  })

  it('should accept the optional attributes in their formats and refuse bad ones', () => {
    expect(
      validate({
        ...base,
        time: '2026-11-22T10:00:00.000Z',
        subject: 'kitchen',
        datacontenttype: 'application/json',
        traceparent: nextTraceparent(),
        data: { on: true },
      }),
    ).toBe(true)
    expect(validate({ ...base, specversion: '0.3' })).toBe(false)
    expect(validate({ ...base, time: 'yesterday' })).toBe(false)
    expect(validate({ ...base, traceparent: 'nope' })).toBe(false)
    expect(validate({ ...base, id: '' })).toBe(false)
  })
})

describe('ServiceDescriptorSchema and StateChangeSchema', () => {
  it('should accept a full descriptor and refuse a bad name', () => {
    const validate = ajv.compile(ServiceDescriptorSchema)
    const d = {
      name: 'lights.toggle',
      version: '1.2.3',
      params: { type: 'object' },
      timeoutMs: 1000,
      idempotent: false,
    }
    expect(validate(d)).toBe(true)
    expect(validate({ ...d, name: 'Lights' })).toBe(false)
    expect(validate({ ...d, timeoutMs: 0 })).toBe(false)
  })

  it('should accept the three change reasons only', () => {
    const validate = ajv.compile(StateChangeSchema)
    const c = { namespace: 'a', key: 'b', value: 1, revision: 1, reason: 'set' }
    expect(validate(c)).toBe(true)
    expect(validate({ ...c, reason: 'expired' })).toBe(true)
    expect(validate({ ...c, reason: 'other' })).toBe(false)
  })
})

describe('validationError', () => {
  it('should name every failing path and keep them in details', () => {
    const validate = ajv.compile({
      type: 'object',
      required: ['on'],
      properties: { on: { type: 'boolean' }, level: { type: 'integer', maximum: 100 } },
    })
    validate({ level: 300 })
    const err = validationError('params of "lights.set"', validate.errors, {
      service: 'lights.set',
    })
    expect(err.code).toBe('E_VALIDATION')
    expect(err.message).toContain('params of "lights.set"')
    expect(err.message).toContain('/on')
    expect(err.message).toContain('/level')
    expect(err.details?.service).toBe('lights.set')
    expect(err.details?.errors).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ path: '/on', keyword: 'required' }),
        expect.objectContaining({ path: '/level', keyword: 'maximum' }),
      ]),
    )
  })
})

describe('traceparent (W3C Trace Context)', () => {
  it('should start a trace and keep the trace id for the next hop', () => {
    const first = nextTraceparent()
    const p = parseTraceparent(first)
    expect(p?.flags).toBe('01')
    const next = parseTraceparent(nextTraceparent(first))
    expect(next?.traceId).toBe(p?.traceId)
    expect(next?.parentId).not.toBe(p?.parentId)
  })

  it('should ignore malformed and all-zero values', () => {
    expect(
      parseTraceparent('00-00000000000000000000000000000000-0000000000000001-01'),
    ).toBeUndefined()
    expect(parseTraceparent('01-abc')).toBeUndefined()
    expect(parseTraceparent(undefined)).toBeUndefined()
  })
})
