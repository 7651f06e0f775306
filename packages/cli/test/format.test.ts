import { CoreError } from '@core/contracts'
import { describe, expect, it } from 'vitest'
import {
  formatCompact,
  formatDetails,
  formatError,
  formatJsonLine,
  formatTable,
  formatTime,
  problemOf,
} from '../src/format.js'

describe('formatTable', () => {
  it('aligns columns under capitalised headers with two spaces and no trailing blanks', () => {
    expect(
      formatTable(
        ['name', 'state', 'note'],
        [
          ['lights', 'started', ''],
          ['zigbee2mqtt', 'failed', 'E_PLUGIN_LIFECYCLE: setup threw'],
        ],
      ),
    ).toBe(
      'NAME         STATE    NOTE\n' +
        'lights       started\n' +
        'zigbee2mqtt  failed   E_PLUGIN_LIFECYCLE: setup threw\n',
    )
  })

  it('keeps each row on one line', () => {
    expect(formatTable(['a'], [['x\ny']])).toBe('A\nx y\n')
  })
})

describe('formatDetails', () => {
  it('aligns labels and indents the continuation lines of a value', () => {
    expect(
      formatDetails([
        ['key', 'a.b'],
        ['value', '{\n  "on": true\n}'],
      ]),
    ).toBe('key    a.b\nvalue  {\n         "on": true\n       }\n')
  })
})

describe('formatCompact, formatTime, formatJsonLine', () => {
  it('cuts long JSON with an ellipsis', () => {
    expect(formatCompact({ text: 'x'.repeat(100) }, 20)).toHaveLength(20)
    expect(formatCompact({ text: 'x'.repeat(100) }, 20).endsWith('…')).toBe(true)
    expect(formatCompact(undefined)).toBe('null')
  })

  it('prints epoch ms as RFC 3339 UTC and a dash for none', () => {
    expect(formatTime(0)).toBe('1970-01-01T00:00:00.000Z')
    expect(formatTime(undefined)).toBe('-')
  })

  it('prints one JSON line', () => {
    expect(formatJsonLine({ a: [1, 2] })).toBe('{"a":[1,2]}\n')
  })
})

describe('formatError', () => {
  it('prints "error E_CODE: message"', () => {
    expect(formatError(new CoreError('E_CONFLICT', 'at revision 2'))).toBe(
      'error E_CONFLICT: at revision 2\n',
    )
  })

  it('adds one line per validation issue the hub reported', () => {
    const err = new CoreError('E_VALIDATION', 'Invalid params', {
      details: {
        status: 400,
        problem: {
          code: 'E_VALIDATION',
          detail: 'Invalid params',
          errors: [
            { path: '/on', keyword: 'type', message: 'must be boolean' },
            { path: '', keyword: 'required', message: "must have required property 'room'" },
          ],
        },
      },
    })
    expect(formatError(err)).toBe(
      "error E_VALIDATION: Invalid params\n  /on: must be boolean\n  (root): must have required property 'room'\n",
    )
  })

  it('prints anything that is not a CoreError as E_INTERNAL', () => {
    expect(formatError(new Error('boom'))).toBe('error E_INTERNAL: boom\n')
  })
})

describe('problemOf', () => {
  it('returns the problem the hub sent unchanged', () => {
    const problem = { type: 't', title: 'Conflict', status: 409, detail: 'd', code: 'E_CONFLICT' }
    expect(problemOf(new CoreError('E_CONFLICT', 'd', { details: { problem } }))).toBe(problem)
  })

  it('builds an RFC 9457 problem for a local error', () => {
    expect(
      problemOf(new CoreError('E_UNAVAILABLE', 'Cannot reach the hub', { details: { url: 'u' } })),
    ).toEqual({
      type: 'https://core-runtime.dev/errors/E_UNAVAILABLE',
      title: 'Unavailable',
      detail: 'Cannot reach the hub',
      code: 'E_UNAVAILABLE',
      details: { url: 'u' },
    })
  })
})
