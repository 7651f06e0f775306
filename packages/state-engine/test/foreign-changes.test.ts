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

describe('changes a shared backend reports from elsewhere', () => {
  it('are published on the bus like the engine’s own', async () => {
    const { backend, report } = sharedBackend()
    const h = harness({ backend })
    report(change('hall', 7))
    await vi.waitFor(() => expect(h.changes).toEqual([change('hall', 7)]))
    await h.state.close()
  })

  it('wait behind a write of the same key still in flight', async () => {
    const inner = createMemoryStateBackend()
    let listener: StateBackendListener | undefined
    let release: () => void = () => {}
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    const backend: StateBackend = {
      ...inner,
      set: async (...args) => {
        await gate
        return inner.set(...args)
      },
      subscribe(next) {
        listener = next
        return () => {}
      },
    }
    const h = harness({ backend })
    const write = h.state.set('lights', 'hall', 'mine')
    listener?.(change('hall', 2))
    release()
    await write
    await vi.waitFor(() => expect(h.changes.map((c) => c.revision)).toEqual([1, 2]))
    await h.state.close()
  })

  it('stop when the engine closes', async () => {
    const { backend, undone } = sharedBackend()
    const h = harness({ backend })
    await h.state.close()
    expect(undone()).toBe(1)
  })
})
