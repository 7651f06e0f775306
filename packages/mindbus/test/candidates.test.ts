import { CoreError } from '@core/contracts'
import { describe, expect, it } from 'vitest'
import { CandidatePicker } from '../src/candidates.js'
import type { NodeEntryLike } from '../src/types.js'

function entry(
  nodeId: string,
  services: Array<[string, string]>,
  labels: Record<string, string> = {},
): NodeEntryLike {
  return {
    nodeId,
    passport: {
      metadata: { uid: `uid-${nodeId}`, name: nodeId, labels },
      spec: { capabilities: { services: services.map(([name, version]) => ({ name, version })) } },
    },
  }
}

const nodes = [
  entry('self', [['x.do', '1.0.0']]),
  entry('a', [['x.do', '1.2.0']]),
  entry('b', [['x.do', '2.0.0']]),
  entry('c', [['y.do', '1.0.0']]),
]

describe('CandidatePicker', () => {
  it('keeps the healthy other nodes listing a satisfying version, and fails at once when none does', async () => {
    const queries: unknown[] = []
    const picker = new CandidatePicker(
      {
        findNodes: (q) => {
          queries.push(q)
          return nodes
        },
      },
      'self',
    )
    expect(await picker.pick('x.do', '^1', undefined)).toBe('a')
    expect(await picker.pick('x.do', '^2', undefined)).toBe('b')
    expect(queries[0]).toEqual({ onlyHealthy: true })
    const error = await Promise.resolve()
      .then(() => picker.pick('x.do', '^3', undefined))
      .catch((e: unknown) => e)
    expect(CoreError.is(error, 'E_SERVICE_NOT_FOUND')).toBe(true)
  })

  it('narrows to the node named by uid or id, and passes the selector to the directory', async () => {
    const queries: unknown[] = []
    const picker = new CandidatePicker(
      {
        findNodes: (q) => {
          queries.push(q)
          return nodes
        },
      },
      'self',
    )
    expect(await picker.pick('x.do', undefined, { node: 'uid-b' })).toBe('b')
    expect(await picker.pick('x.do', undefined, { node: 'a' })).toBe('a')
    await picker.pick('x.do', undefined, { selector: 'room=kitchen' })
    expect(queries.at(-1)).toEqual({ onlyHealthy: true, selector: 'room=kitchen' })
  })

  it('prefers the node with the fewest calls in flight, then takes turns', async () => {
    const picker = new CandidatePicker({ findNodes: () => nodes }, 'self')
    picker.track('a')
    expect(await picker.pick('x.do', undefined, undefined)).toBe('b')
    expect(await picker.pick('x.do', undefined, undefined)).toBe('b')
    picker.untrack('a')
    const turns = new Set([
      await picker.pick('x.do', undefined, undefined),
      await picker.pick('x.do', undefined, undefined),
    ])
    expect(turns).toEqual(new Set(['a', 'b']))
  })

  it('answers at once from a synchronous directory and through a promise from an async one', async () => {
    const sync = new CandidatePicker({ findNodes: () => nodes }, 'self')
    expect(sync.pick('x.do', '^1', undefined)).toBe('a')
    expect(() => sync.pick('x.do', '^3', undefined)).toThrow(/No service "x.do"/)
    const later = new CandidatePicker({ findNodes: async () => nodes }, 'self')
    const picked = later.pick('x.do', '^2', undefined)
    expect(picked).toBeInstanceOf(Promise)
    expect(await picked).toBe('b')
    const error = await (later.pick('x.do', '^3', undefined) as Promise<string>).catch(
      (e: unknown) => e,
    )
    expect(CoreError.is(error, 'E_SERVICE_NOT_FOUND')).toBe(true)
  })
})
