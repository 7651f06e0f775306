import { CoreError } from '@core/contracts'
import { describe, expect, it } from 'vitest'
import { testKernel } from './helpers.js'

describe('kernel health checks', () => {
  it('should report a registered check as a component and take the worst status', async () => {
    const kernel = testKernel({})
    await kernel.start()
    let connected = true
    const undo = kernel.addHealthCheck('mqtt', () => ({
      status: connected ? 'healthy' : 'degraded',
      details: { connected },
    }))
    expect((await kernel.health()).components.mqtt).toEqual({
      status: 'healthy',
      details: { connected: true },
    })
    expect((await kernel.health()).status).toBe('healthy')
    connected = false
    const degraded = await kernel.health()
    expect(degraded.components.mqtt?.status).toBe('degraded')
    expect(degraded.status).toBe('degraded')
    undo()
    const after = await kernel.health()
    expect(after.components.mqtt).toBeUndefined()
    expect(after.status).toBe('healthy')
    await kernel.stop()
  })

  it('should report a throwing check as unhealthy with its error', async () => {
    const kernel = testKernel({})
    await kernel.start()
    kernel.addHealthCheck('remote', async () => {
      throw new Error('no route to node-b')
    })
    const report = await kernel.health()
    expect(report.components.remote).toEqual({
      status: 'unhealthy',
      details: { error: 'no route to node-b' },
    })
    expect(report.status).toBe('unhealthy')
    await kernel.stop()
  })

  it('should refuse built-in, malformed and duplicate names', () => {
    const kernel = testKernel({})
    const check = () => ({ status: 'healthy' as const })
    const code = (name: string): string | undefined => {
      try {
        kernel.addHealthCheck(name, check)
        return undefined
      } catch (error) {
        return CoreError.is(error) ? error.code : 'not a CoreError'
      }
    }
    expect(code('storage')).toBe('E_VALIDATION')
    expect(code('Has Space')).toBe('E_VALIDATION')
    expect(code('mqtt')).toBeUndefined()
    expect(code('mqtt')).toBe('E_CONFLICT')
  })
})
