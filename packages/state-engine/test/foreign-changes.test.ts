import type { StateChange } from '@core/contracts'
import { describe, expect, it, vi } from 'vitest'
import {
  createMemoryStateBackend,
  type StateBackend,
  type StateBackendListener,
} from '../src/index.js'
import { harness } from './helpers/setup.js'

/** A memory backend that also reports changes "from elsewhere", as a shared backend does. */
function sharedBackend(): {
  backend: StateBackend
  report: StateBackendListener
  undone: () => number
} {
  const inner = createMemoryStateBackend()
  let listener: StateBackendListener | undefined
  let undos = 0
  const backend: StateBackend = {
    ...inner,
    subscribe(next) {
      listener = next
      return () => {
        undos++
        listener = undefined
      }
    },
  }
  return { backend, report: (change) => listener?.(change), undone: () => undos }
}

const change = (key: string, revision: number): StateChange => ({
  namespace: 'lights',
  key,
  value: revision,
  revision,
  reason: 'set',
})

describe('changes a shared backend reports', () => {
  it('are published on the bus like the engine’s own', async () => {
    const { backend, report } = sharedBackend()
    const h = harness({ backend })
    report(change('hall', 7))
    await vi.waitFor(() => expect(h.changes).toEqual([change('hall', 7)]))
    await h.state.close()
  })

  it('are the only report of a write whose result the backend marks reported', async () => {
    const inner = createMemoryStateBackend()
    let listener: StateBackendListener | undefined
    const backend: StateBackend = {
      ...inner,
      set: async (...args) => {
        const result = await inner.set(...args)
        for (const own of result.changes) listener?.(own)
        return { ...result, reported: true }
      },
      subscribe(next) {
        listener = next
        return () => {}
      },
    }
    const h = harness({ backend })
    await h.state.set('lights', 'hall', 'mine')
    listener?.(change('hall', 2))
    await vi.waitFor(() => expect(h.changes.map((c) => c.revision)).toEqual([1, 2]))
    // A third, later change is the positive signal that revision 1 is not coming again.
    await h.state.set('lights', 'hall', 'again')
    await vi.waitFor(() => expect(h.changes.map((c) => c.revision)).toEqual([1, 2, 2]))
    await h.state.close()
  })

  it('stop when the engine closes', async () => {
    const { backend, undone } = sharedBackend()
    const h = harness({ backend })
    await h.state.close()
    expect(undone()).toBe(1)
  })
})
