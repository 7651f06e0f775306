import { CoreError } from '@core/contracts'
import type { RemoteCallRequest } from '@core/service-registry'
import { describe, expect, it } from 'vitest'
import { testKernel } from './helpers.js'

describe('createKernel({ remote })', () => {
  it('sends a call no local service serves to the remote transport', async () => {
    const seen: RemoteCallRequest[] = []
    const kernel = testKernel({
      remote: {
        call: async (request) => {
          seen.push(request)
          return { servedBy: 'elsewhere' }
        },
      },
    })
    await expect(kernel.services.call('heating.set', { level: 2 })).resolves.toEqual({
      servedBy: 'elsewhere',
    })
    expect(seen.map((r) => [r.name, r.params])).toEqual([['heating.set', { level: 2 }]])
  })

  it('keeps local services first', async () => {
    const kernel = testKernel({
      remote: { call: () => Promise.reject(new Error('must not be asked')) },
    })
    kernel.services.register('heating.set', () => 'local', { params: {} })
    await expect(kernel.services.call('heating.set', {})).resolves.toBe('local')
  })

  it('without it, a call nobody serves is E_SERVICE_NOT_FOUND', async () => {
    const kernel = testKernel()
    const error = await kernel.services.call('heating.set', {}).catch((e: unknown) => e)
    expect(CoreError.is(error, 'E_SERVICE_NOT_FOUND')).toBe(true)
  })
})
