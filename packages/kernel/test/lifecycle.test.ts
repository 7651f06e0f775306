import { CoreError } from '@core/contracts'
import { describe, expect, it } from 'vitest'
import { definePlugin, type PluginContext } from '../src/index.js'
import { fixture, recordTransitions, testKernel } from './helpers.js'
import { inline, rejection } from './lifecycle-helpers.js'

describe('lifecycle', () => {
  it('should walk discovered → loaded → setup → started and publish each transition as core.plugin.<state>', async () => {
    const kernel = testKernel({ pluginDirs: [fixture('plugins')] })
    const seen = recordTransitions(kernel)
    await kernel.start()
    await expect.poll(() => seen.includes('gamma:started'), { timeout: 5_000 }).toBe(true)
    expect(seen.filter((s) => s.startsWith('alpha:'))).toEqual([
      'alpha:discovered',
      'alpha:loaded',
      'alpha:setup',
      'alpha:started',
    ])
    expect((await kernel.plugins.get('alpha')).state).toBe('started')
    await kernel.stop()
    await expect.poll(() => seen.includes('alpha:unloaded'), { timeout: 5_000 }).toBe(true)
    expect(seen.slice(-6)).toEqual([
      'gamma:stopped',
      'gamma:unloaded',
      'beta:stopped',
      'beta:unloaded',
      'alpha:stopped',
      'alpha:unloaded',
    ])
  })

  it('should start in dependency order and stop in reverse order', async () => {
    const calls: string[] = []
    const plugin = (name: string) =>
      definePlugin({
        start: () => void calls.push(`start ${name}`),
        stop: () => void calls.push(`stop ${name}`),
      })
    const kernel = testKernel({
      plugins: [
        inline('c', plugin('c'), { requires: { b: '*' } }),
        inline('b', plugin('b'), { requires: { a: '*' } }),
        inline('a', plugin('a')),
      ],
    })
    const report = await kernel.start()
    expect(report.started).toEqual(['a', 'b', 'c'])
    await kernel.stop()
    expect(calls).toEqual(['start a', 'start b', 'start c', 'stop c', 'stop b', 'stop a'])
  })

  it('should accept a plugin object, a class, a setup function and definePlugin', async () => {
    const hits: string[] = []
    class ClassPlugin {
      constructor(readonly ctx: PluginContext) {}
      setup(ctx: PluginContext): void {
        hits.push(`class setup same ctx=${ctx === this.ctx}`)
      }
      start(): void {
        hits.push('class start')
      }
    }
    const kernel = testKernel({
      plugins: [
        inline('obj', { setup: () => void hits.push('object setup') }),
        inline('cls', ClassPlugin),
        inline('fn', (ctx: PluginContext) => {
          hits.push(`function setup ${ctx.name}`)
          return { start: () => void hits.push('function start') }
        }),
        inline('def', definePlugin({ start: () => void hits.push('definePlugin start') })),
      ],
    })
    const report = await kernel.start()
    expect(report.started).toEqual(['obj', 'cls', 'fn', 'def'])
    expect(hits).toEqual([
      'object setup',
      'class setup same ctx=true',
      'class start',
      'function setup fn',
      'function start',
      'definePlugin start',
    ])
  })

  it('should validate config against the manifest schema and apply its defaults', async () => {
    let seen: unknown
    const kernel = testKernel({
      plugins: [
        inline(
          'cfg',
          {
            setup: (ctx) => {
              seen = ctx.config
            },
          },
          {
            config: {
              type: 'object',
              properties: {
                port: { type: 'integer' },
                host: { type: 'string', default: '127.0.0.1' },
              },
              required: ['port'],
            },
          },
        ),
      ],
      config: { cfg: { port: 8080 } },
    })
    await kernel.start()
    expect(seen).toEqual({ port: 8080, host: '127.0.0.1' })
    expect(Object.isFrozen(seen)).toBe(true)
  })

  it('should fail a plugin whose config is invalid at setup, naming each failing field', async () => {
    const kernel = testKernel({
      plugins: [fixture('bad/bad-config')],
      config: { 'bad-config': { port: 0 } },
    })
    const report = await kernel.start()
    expect(report.failed[0]?.step).toBe('setup')
    const error = report.failed[0]?.error as CoreError
    expect(error.code).toBe('E_PLUGIN_LIFECYCLE')
    expect(error.message).toContain('Invalid config of plugin "bad-config": /port must be >= 1')
    expect(CoreError.is(error.cause, 'E_VALIDATION')).toBe(true)
  })

  it('should time out a hanging step and mark the plugin failed with E_TIMEOUT as cause', async () => {
    const kernel = testKernel({
      plugins: [fixture('bad/hangs-setup')],
      lifecycleTimeoutMs: { setup: 50 },
    })
    const report = await kernel.start()
    const error = report.failed[0]?.error as CoreError
    expect(error.message).toBe(
      'Plugin "hangs-setup" failed at setup: setup() of plugin "hangs-setup" did not finish within 50 ms (E_TIMEOUT)',
    )
    expect(CoreError.is(error.cause, 'E_TIMEOUT')).toBe(true)
    const info = await kernel.plugins.get('hangs-setup')
    expect(info).toMatchObject({ state: 'failed', failedStep: 'setup' })
  })

  it('should run storage migrations before setup and record the version', async () => {
    const order: string[] = []
    const plugin = definePlugin({
      migrations: {
        1: async (storage) => {
          order.push('migrate 1')
          await storage.set('schema', { v: 1 })
        },
        2: async (storage) => {
          order.push('migrate 2')
          await storage.set('schema', { v: 2 })
        },
      },
      setup: async (ctx) => {
        order.push(`setup sees ${JSON.stringify(await ctx.storage.get('schema'))}`)
      },
    })
    const kernel = testKernel({ plugins: [inline('notes', plugin, { storage: { version: 2 } })] })
    await kernel.start()
    expect(order).toEqual(['migrate 1', 'migrate 2', 'setup sees {"v":2}'])
    expect(await kernel.storage.schemaVersion('notes')).toBe(2)
  })

  it('should fail a plugin at migrate when its stored data is newer than it (a downgrade)', async () => {
    const kernel = testKernel({
      plugins: [inline('notes', { setup() {} }, { storage: { version: 1 } })],
    })
    await kernel.storage.setSchemaVersion('notes', 3)
    const report = await kernel.start()
    expect(report.failed[0]?.step).toBe('migrate')
    expect(report.failed[0]?.error.message).toContain('was downgraded')
  })

  it('should refuse to start twice', async () => {
    const kernel = testKernel()
    await kernel.start()
    expect((await rejection(kernel.start())).code).toBe('E_CONFLICT')
  })

  it('should answer E_NOT_FOUND for an unknown plugin', async () => {
    const kernel = testKernel({ plugins: [inline('a', { setup() {} })] })
    await kernel.start()
    const error = await rejection(kernel.plugins.get('nope'))
    expect(error.code).toBe('E_NOT_FOUND')
    expect(error.message).toContain('known plugins: a')
  })
})

describe('failures during boot', () => {
  it('should keep the others running when an optional plugin fails, skip its dependents with a reason and report degraded health', async () => {
    const kernel = testKernel({
      plugins: [
        inline('base', { setup() {} }),
        inline('broken', { setup: () => Promise.reject(new Error('no hardware')) }),
        inline('needs-broken', { setup() {} }, { requires: { broken: '*' } }),
        inline('likes-broken', { setup() {} }, { optionalRequires: { broken: '*' } }),
      ],
    })
    const report = await kernel.start()
    expect(report.started).toEqual(['base', 'likes-broken'])
    expect(report.failed.map((f) => [f.name, f.step])).toEqual([['broken', 'setup']])
    expect(report.skipped).toEqual([
      { name: 'needs-broken', reason: 'not started: dependency "broken" is failed' },
    ])
    expect(await kernel.plugins.get('needs-broken')).toMatchObject({
      state: 'discovered',
      reason: 'not started: dependency "broken" is failed',
    })
    const health = await kernel.health()
    expect(health.status).toBe('degraded')
    expect(health.plugins.broken).toMatchObject({
      status: 'degraded',
      state: 'failed',
      error: expect.stringContaining('no hardware'),
    })
    expect(health.plugins['needs-broken']?.status).toBe('degraded')
    expect(health.plugins.base?.status).toBe('healthy')
  })

  it('should fail the boot when a required plugin fails, naming the plugin, the step and the cause, and stop what started', async () => {
    const stopped: string[] = []
    const kernel = testKernel({
      plugins: [
        inline('base', { stop: () => void stopped.push('base') }),
        inline('main-lights', { start: () => Promise.reject(new Error('bus is down')) }),
      ],
      required: ['main-lights'],
    })
    const error = await rejection(kernel.start())
    expect(error.code).toBe('E_PLUGIN_LIFECYCLE')
    expect(error.message).toBe('Plugin "main-lights" failed at start: bus is down')
    expect(error.details).toMatchObject({ plugin: 'main-lights', step: 'start' })
    expect(stopped).toEqual(['base'])
    expect((await kernel.health()).status).toBe('unhealthy')
  })

  it('should treat a dependency of a required plugin as required', async () => {
    const kernel = testKernel({
      plugins: [
        inline('db', { setup: () => Promise.reject(new Error('disk full')) }),
        inline('api', { setup() {} }, { requires: { db: '^1.0.0' } }),
      ],
      required: ['api'],
    })
    const error = await rejection(kernel.start())
    expect(error.message).toBe('Plugin "db" failed at setup: disk full')
  })

  it('should fail the boot when a required plugin is not installed', async () => {
    const kernel = testKernel({ plugins: [fixture('plugins/alpha')], required: ['ghost'] })
    const error = await rejection(kernel.start())
    expect(error.code).toBe('E_PLUGIN_DEPENDENCY')
    expect(error.message).toContain('Required plugin "ghost" was not found')
  })

  it('should fail the boot with the dependency error when a required plugin has an unmet dependency', async () => {
    const kernel = testKernel({
      plugins: [fixture('plugins/alpha'), fixture('bad/version-mismatch')],
      required: ['version-mismatch'],
    })
    const error = await rejection(kernel.start())
    expect(error.code).toBe('E_PLUGIN_DEPENDENCY')
    expect(error.message).toBe(
      'Plugin "version-mismatch" needs dependency "alpha" ^2.0.0, but version 1.2.0 is installed; install a matching "alpha" or widen the range',
    )
  })
})
