import { CloudEvent } from 'cloudevents'
import { describe, expect, it } from 'vitest'
import { COMMAND_TYPE, makeEnvelope, readCommand, readEnvelope } from '../src/envelope.js'

describe('MindBus envelopes (CloudEvents 1.0 JSON format)', () => {
  it('builds a structured-mode envelope that reads back unchanged', () => {
    const e = makeEnvelope(
      COMMAND_TYPE,
      'uid-a',
      { action: 'set', params: { on: true } },
      { priority: 20 },
    )
    expect(e).toMatchObject({
      specversion: '1.0',
      source: 'uid-a',
      type: COMMAND_TYPE,
      datacontenttype: 'application/json',
      priority: 20,
    })
    expect(Number.isNaN(Date.parse(e.time))).toBe(false)
    expect(readEnvelope(Buffer.from(JSON.stringify(e)))).toEqual(e)
  })

  it('builds envelopes the cloudevents SDK validates, with every extension and none undefined', () => {
    const e = makeEnvelope(
      COMMAND_TYPE,
      'uid-a',
      { action: 'set', params: { on: true } },
      {
        id: 'c-1',
        subject: 'order-42',
        traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
        priority: 20,
        correlationid: 'c-1',
      },
    )
    // The SDK's own check (strict mode throws a ValidationError on any CloudEvents 1.0 breach).
    const sdk = new CloudEvent<unknown>({ ...e }, true)
    expect(sdk.validate()).toBe(true)
    expect(JSON.parse(JSON.stringify(sdk))).toEqual(JSON.parse(JSON.stringify(e)))
    expect(Object.values(e)).not.toContain(undefined)
    expect(Object.keys(makeEnvelope(COMMAND_TYPE, 'uid-a', null)).sort()).toEqual(
      ['data', 'datacontenttype', 'id', 'source', 'specversion', 'time', 'type'].sort(),
    )
  })

  it('refuses an empty source or type with E_VALIDATION', () => {
    expect(() => makeEnvelope('', 'uid-a', null)).toThrow(/non-empty type, source and id/)
    expect(() => makeEnvelope(COMMAND_TYPE, '', null)).toThrow(/non-empty type, source and id/)
  })

  it.each([
    ['{not json', 'not JSON'],
    ['[1]', 'not a JSON object'],
    [JSON.stringify({ specversion: '0.3', id: '1', source: 's', type: 't' }), 'specversion'],
    [JSON.stringify({ specversion: '1.0', id: '', source: 's', type: 't' }), '"id"'],
    [
      JSON.stringify({ specversion: '1.0', id: '1', source: 's', type: 't', time: 'yesterday' }),
      '"time"',
    ],
    [
      JSON.stringify({ specversion: '1.0', id: '1', source: 's', type: 't', traceparent: 'x' }),
      'traceparent',
    ],
    [
      JSON.stringify({ specversion: '1.0', id: '1', source: 's', type: 't', Bad_Name: 1 }),
      'attribute name',
    ],
  ])('refuses %s with a reason', (body, reason) => {
    const read = readEnvelope(body)
    expect(typeof read).toBe('string')
    expect(read).toContain(reason)
  })

  it('reads the spec command data and refuses a command without action', () => {
    expect(readCommand({ action: 'set', params: { on: true }, version: '^1' })).toEqual({
      action: 'set',
      params: { on: true },
      version: '^1',
    })
    expect(readCommand({ params: {} })).toContain('action')
    expect(readCommand({ action: 'x', version: 2 })).toContain('version')
  })
})
