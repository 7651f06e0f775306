import { CoreError, type Logger, silentLogger } from '@core/contracts'
import { describe, expect, it, vi } from 'vitest'
import { type CallOutcome, createServiceRegistry } from '../src/index.js'

function registry(logger: Logger = silentLogger): ReturnType<typeof createServiceRegistry> {
  return createServiceRegistry({ logger })
}

describe('observe', () => {
  it('should tell every observer how each call ended, with its duration', async () => {
    const services = registry()
    const seen: CallOutcome[] = []
    services.observe((o) => seen.push(o))
    services.register('a.ok', () => 1, { params: {}, version: '2.0.0' })
    services.register(
      'a.boom',
      () => {
        throw new Error('boom')
      },
      { params: {} },
    )
    services.register(
      'a.refuse',
      () => {
        throw new CoreError('E_CONFLICT', 'taken')
      },
      { params: {} },
    )
    await services.call('a.ok', {})
    await services.call('a.boom', {}).catch(() => undefined)
    await services.call('a.refuse', {}).catch(() => undefined)
    expect(
      seen.map(({ name, version, outcome, remote }) => ({ name, version, outcome, remote })),
    ).toEqual([
      { name: 'a.ok', version: '2.0.0', outcome: 'ok', remote: false },
      { name: 'a.boom', version: '1.0.0', outcome: 'E_HANDLER', remote: false },
      { name: 'a.refuse', version: '1.0.0', outcome: 'E_CONFLICT', remote: false },
    ])
    for (const o of seen) expect(o.durationMs).toBeGreaterThanOrEqual(0)
  })

  it('should report a timeout as E_TIMEOUT once, not the late answer', async () => {
    vi.useFakeTimers()
    try {
      const services = registry()
      const seen: string[] = []
      services.observe((o) => seen.push(o.outcome))
      services.register('a.slow', () => new Promise((r) => setTimeout(() => r(1), 1_000)), {
        params: {},
        timeoutMs: 50,
      })
      const call = services.call('a.slow', {}).catch((e: unknown) => (e as CoreError).code)
      await vi.advanceTimersByTimeAsync(2_000)
      expect(await call).toBe('E_TIMEOUT')
      expect(seen).toEqual(['E_TIMEOUT'])
    } finally {
      vi.useRealTimers()
    }
  })

  it('should see calls behind middleware too, and stop after its undo', async () => {
    const services = registry()
    const seen: string[] = []
    const undo = services.observe((o) => seen.push(`${o.name}:${o.outcome}`))
    services.use((_ctx, next) => next())
    services.register('a.b', () => 'r', { params: {} })
    await services.call('a.b', {})
    undo()
    await services.call('a.b', {})
    expect(seen).toEqual(['a.b:ok'])
  })

  it('should log and ignore an observer that throws; the call still succeeds', async () => {
    const warn = vi.fn()
    const logger: Logger = { ...silentLogger, warn, child: () => logger }
    const services = registry(logger)
    const seen: string[] = []
    services.observe(() => {
      throw new Error('metrics broke')
    })
    services.observe((o) => seen.push(o.outcome))
    services.register('a.b', () => 'r', { params: {} })
    expect(await services.call('a.b', {})).toBe('r')
    expect(seen).toEqual(['ok'])
    expect(warn).toHaveBeenCalledTimes(1)
  })

  it('should refuse an observer that is not a function', () => {
    const services = registry()
    expect(() => services.observe(42 as never)).toThrow(
      expect.objectContaining({ code: 'E_VALIDATION' }),
    )
  })
})
