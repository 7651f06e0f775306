import { CoreError, silentLogger } from '@core/contracts'
import { createMemoryStateBackend } from '@core/state-engine'
import { describe, expect, it } from 'vitest'
import { createKernel } from '../src/index.js'
import { testKernel } from './helpers.js'

describe('createKernel({ stateBackend })', () => {
  it('keeps the state in the backend given', async () => {
    const backend = createMemoryStateBackend()
    const kernel = testKernel({ stateBackend: backend })
    await kernel.state.set('lights', 'hall', { on: true })
    expect((await backend.get('lights', 'hall'))?.value).toEqual({ on: true })
  })

  it('refuses it together with persistState', () => {
    const make = () =>
      createKernel({
        logger: silentLogger,
        stateBackend: createMemoryStateBackend(),
        persistState: ['scenes'],
      })
    expect(make).toThrow(CoreError)
    expect(make).toThrow(/either stateBackend or persistState/)
  })
})
