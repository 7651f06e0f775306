import { silentLogger } from '@core/contracts'
import { createKernel } from '@core/kernel'
import type { RemoteCallRequest } from '@core/service-registry'
import { afterEach, describe, expect, it } from 'vitest'
import { createHttpServer } from '../src/index.js'
import { ADMIN_TOKEN } from './helpers.js'

const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined)
})

describe('POST /api/v1/services/{name}?node=&selector=', () => {
  it('should pass node and selector to the call as meta.route (cluster routing)', async () => {
    const requests: RemoteCallRequest[] = []
    const kernel = createKernel({
      logger: silentLogger,
      remote: {
        call: async (request) => {
          requests.push(request)
          return { served: true }
        },
      },
    })
    await kernel.start()
    cleanups.push(() => kernel.stop())
    const http = createHttpServer(kernel, {
      adminToken: ADMIN_TOKEN,
      logger: silentLogger,
      processMetrics: false,
    })
    cleanups.push(() => http.close())
    const { url } = await http.listen({ host: '127.0.0.1', port: 0 })
    const call = (query: string) =>
      fetch(`${url}/api/v1/services/heating.set${query}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: '{}',
      })
    expect((await call(`?selector=${encodeURIComponent('room=kitchen')}`)).status).toBe(200)
    expect((await call('?node=0b8f6a2e-6a3c-4a8e-9f3e-1b2c3d4e5f60')).status).toBe(200)
    expect((await call('')).status).toBe(200)
    expect(requests.map((r) => r.meta.route)).toEqual([
      { selector: 'room=kitchen' },
      { node: '0b8f6a2e-6a3c-4a8e-9f3e-1b2c3d4e5f60' },
      undefined,
    ])
  })
})
