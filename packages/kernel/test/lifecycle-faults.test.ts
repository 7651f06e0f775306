import { describe, expect, it } from 'vitest'
import { fixture, testKernel } from './helpers.js'
import { inline, rejection } from './lifecycle-helpers.js'

describe('bad plugins next to a healthy one', () => {
  it.each([
    [
      'bad/no-manifest',
      'no-manifest',
      'discover',
      'E_PLUGIN_MANIFEST',
      'has no "corePlugin" field',
    ],
    [
      'bad/bad-manifest',
      'Bad_Name',
      'discover',
      'E_PLUGIN_MANIFEST',
      '/corePlugin/name must match pattern',
    ],
    [
      'bad/missing-entry',
      'missing-entry',
      'discover',
      'E_PLUGIN_MANIFEST',
      'Entry file of plugin "missing-entry" is missing',
    ],
    [
      'bad/nothing-usable',
      'nothing-usable',
      'load',
      'E_PLUGIN_LIFECYCLE',
      'exports nothing usable as a plugin (exports: answer)',
    ],
    [
      'bad/throws-load',
      'throws-load',
      'load',
      'E_PLUGIN_LIFECYCLE',
      'Plugin "throws-load" failed at load: boom at import',
    ],
    [
      'bad/throws-setup',
      'throws-setup',
      'setup',
      'E_PLUGIN_LIFECYCLE',
      'Plugin "throws-setup" failed at setup: boom in setup',
    ],
    [
      'bad/throws-start',
      'throws-start',
      'start',
      'E_PLUGIN_LIFECYCLE',
      'Plugin "throws-start" failed at start: boom in start',
    ],
    [
      'bad/api-mismatch',
      'api-mismatch',
      'resolve',
      'E_PLUGIN_DEPENDENCY',
      'needs core API ^2.0.0, but this kernel offers 1.0.0',
    ],
    [
      'bad/version-mismatch',
      'version-mismatch',
      'resolve',
      'E_PLUGIN_DEPENDENCY',
      '"alpha" ^2.0.0, but version 1.2.0 is installed',
    ],
    [
      'bad/missing-dep',
      'missing-dep',
      'resolve',
      'E_PLUGIN_DEPENDENCY',
      'requires plugin "nowhere" ^1.0.0, which is not installed',
    ],
    [
      'bad/bad-config-schema',
      'bad-config-schema',
      'discover',
      'E_PLUGIN_MANIFEST',
      '/corePlugin/config must be a valid JSON Schema',
    ],
  ])(
    'should isolate %s: failed at %s with its own clear error',
    async (path, name, step, code, message) => {
      const kernel = testKernel({ plugins: [fixture('plugins/alpha'), fixture(path)] })
      const report = await kernel.start()
      expect(report.started).toEqual(['alpha'])
      const failure = report.failed.find((f) => f.name === name)
      expect(failure?.step).toBe(step)
      expect(failure?.error.code).toBe(code)
      expect(failure?.error.message).toContain(message)
      expect(await kernel.plugins.get(name)).toMatchObject({ state: 'failed', failedStep: step })
      expect((await kernel.health()).status).toBe('degraded')
      expect(await kernel.services.call('alpha.ping', {})).toBe('pong')
    },
  )

  it('should fail every plugin of a cycle, printing the cycle, and still start the healthy one', async () => {
    const kernel = testKernel({
      plugins: [
        fixture('plugins/alpha'),
        fixture('bad/cycle-a'),
        fixture('bad/cycle-b'),
        fixture('bad/cycle-c'),
      ],
    })
    const report = await kernel.start()
    expect(report.started).toEqual(['alpha'])
    expect(report.failed.map((f) => f.name).sort()).toEqual(['cycle-a', 'cycle-b', 'cycle-c'])
    expect(report.failed[0]?.error.message).toContain('cycle-a → cycle-b → cycle-c → cycle-a')
  })
})

describe('inline plugins and driving plugins', () => {
  it('should validate inline manifests like package ones', async () => {
    const kernel = testKernel({
      plugins: [
        inline('ok', { setup() {} }),
        { manifest: { name: 'Bad Name', coreApi: 'soon' }, plugin: { setup() {} } },
      ],
    })
    const report = await kernel.start()
    expect(report.started).toEqual(['ok'])
    expect(report.failed[0]?.step).toBe('discover')
    expect(report.failed[0]?.error.message).toContain(
      'Invalid plugin manifest in inline:Bad Name: /corePlugin/name must match pattern',
    )
  })

  it('should refuse to drive plugins before start() and after stop() with E_UNAVAILABLE', async () => {
    const kernel = testKernel({ plugins: [inline('a', { setup() {} })] })
    expect((await rejection(kernel.plugins.reload('a'))).code).toBe('E_UNAVAILABLE')
    await kernel.start()
    await kernel.stop()
    const error = await rejection(kernel.plugins.start('a'))
    expect(error.code).toBe('E_UNAVAILABLE')
    expect(error.message).toContain('The kernel is stopped')
  })
})

describe('stop and shutdown', () => {
  it('should report plugins that throw in stop or unload and still stop the others', async () => {
    const kernel = testKernel({
      plugins: [fixture('plugins/alpha'), fixture('bad/throws-stop'), fixture('bad/throws-unload')],
    })
    await kernel.start()
    const report = await kernel.stop()
    expect(report.stopped).toEqual(['alpha'])
    expect(report.failed.map((f) => [f.name, f.step, f.error.message])).toEqual([
      ['throws-unload', 'unload', 'Plugin "throws-unload" failed at unload: boom in unload'],
      ['throws-stop', 'stop', 'Plugin "throws-stop" failed at stop: boom in stop'],
    ])
    expect(report.timedOut).toBe(false)
  })

  it('should abandon a plugin hanging in stop after its own timeout and report it', async () => {
    const kernel = testKernel({
      plugins: [fixture('plugins/alpha'), fixture('bad/hangs-stop')],
      lifecycleTimeoutMs: { stop: 50 },
    })
    await kernel.start()
    const report = await kernel.stop()
    expect(report.stopped).toEqual(['alpha'])
    expect(report.failed).toHaveLength(1)
    expect(report.failed[0]?.error.message).toBe(
      'Plugin "hangs-stop" failed at stop: stop() of plugin "hangs-stop" did not finish within 50 ms (E_TIMEOUT)',
    )
    expect(kernel.stats().resources).toEqual({
      subscriptions: 0,
      services: 0,
      watches: 0,
      timers: 0,
    })
  })

  it('should keep stop() within the overall shutdown deadline, abandoning what is left', async () => {
    const hang = { stop: () => new Promise<void>(() => {}) }
    const kernel = testKernel({
      plugins: [inline('first', hang), inline('second', hang), inline('third', hang)],
      lifecycleTimeoutMs: { stop: 60_000 },
      shutdownTimeoutMs: 80,
    })
    await kernel.start()
    const report = await kernel.stop()
    expect(report.timedOut).toBe(true)
    expect(report.stopped).toEqual([])
    expect(report.failed.map((f) => f.name)).toEqual(['third', 'second', 'first'])
    // The first stop gets what is left of the 80 ms deadline: 80, or less once a ms has passed.
    const budget = /did not finish within (\d+) ms/.exec(report.failed[0]?.error.message ?? '')
    expect(Number(budget?.[1])).toBeGreaterThan(0)
    expect(Number(budget?.[1])).toBeLessThanOrEqual(80)
    expect(report.failed[2]?.error.message).toContain(
      'abandoned: the shutdown deadline passed before its turn',
    )
  })

  it('should abort ctx.signal when the plugin stops', async () => {
    let signal: AbortSignal | undefined
    const kernel = testKernel({
      plugins: [
        inline('s', {
          setup: (ctx) => {
            signal = ctx.signal
          },
        }),
      ],
    })
    await kernel.start()
    expect(signal?.aborted).toBe(false)
    await kernel.stop()
    expect(signal?.aborted).toBe(true)
  })

  it('should report unhealthy once stopped, and return the same report on a second stop', async () => {
    const kernel = testKernel({ plugins: [inline('a', { setup() {} })] })
    await kernel.start()
    expect((await kernel.health()).status).toBe('healthy')
    const first = await kernel.stop()
    expect(await kernel.stop()).toBe(first)
    expect((await kernel.health()).components.kernel?.status).toBe('unhealthy')
  })
})
