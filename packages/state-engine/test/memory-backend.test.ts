import { describe, expect, it } from 'vitest'
import { runStateBackendConformance } from '../src/conformance.js'
import { createMemoryStateBackend } from '../src/index.js'

runStateBackendConformance(createMemoryStateBackend, { name: 'memory' })

describe('createMemoryStateBackend', () => {
  it('hands out frozen entries and changes', async () => {
    const b = createMemoryStateBackend()
    const result = await b.set('a', 'k', 1, { now: 0 })
    expect(Object.isFrozen(result.entry)).toBe(true)
    expect(Object.isFrozen(result.changes[0])).toBe(true)
    expect(Object.isFrozen(await b.get('a', 'k'))).toBe(true)
  })

  it('starts every backend at revision 1 (the counter is per store)', async () => {
    const one = createMemoryStateBackend()
    await one.set('a', 'k', 1, { now: 0 })
    const two = createMemoryStateBackend()
    expect((await two.set('a', 'k', 1, { now: 0 })).entry?.revision).toBe(1)
  })
})
