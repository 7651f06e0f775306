import { CoreError } from '@core/contracts'
import { createMockHub } from '@core/testing'
import { describe, expect, it } from 'vitest'
import hello from '../src/index.js'

// The package folder: the mock hub reads the manifest and version from its package.json and
// uses the implementation imported above from source (no build needed).
const packageDir = new URL('..', import.meta.url)

describe('hello plugin', () => {
  it('greets with the configured greeting and publishes hello.greeted', async () => {
    const hub = await createMockHub({
      plugins: [{ packageDir, plugin: hello }],
      config: { hello: { greeting: 'Hi' } },
    })
    expect(await hub.call('hello.greet', { name: 'Ada' })).toEqual({ message: 'Hi, Ada!' })
    const event = await hub.expectEvent('hello.greeted')
    expect(event.source).toBe('/plugins/hello')
    expect(event.data).toEqual({ name: 'Ada', message: 'Hi, Ada!' })
    await hub.stop()
  })

  it('greets the world with "Hello" by default', async () => {
    const hub = await createMockHub({ plugins: [{ packageDir, plugin: hello }] })
    expect(await hub.call('hello.greet')).toEqual({ message: 'Hello, world!' })
    await hub.stop()
  })

  it('refuses bad params and bad config with E_VALIDATION', async () => {
    const hub = await createMockHub({ plugins: [{ packageDir, plugin: hello }] })
    const error = await hub.call('hello.greet', { name: '' }).catch((e: unknown) => e)
    expect(CoreError.is(error, 'E_VALIDATION')).toBe(true)
    await hub.stop()
    const boot = await createMockHub({
      plugins: [{ packageDir, plugin: hello }],
      config: { hello: { greeting: 42 } },
    }).catch((e: unknown) => e)
    expect((boot as Error).message).toMatch(/hello/)
    expect((boot as Error).message).toMatch(/greeting/)
  })

  it('releases its service when it is unloaded', async () => {
    const hub = await createMockHub({ plugins: [{ packageDir, plugin: hello }] })
    await hub.plugins.unload('hello')
    const error = await hub.call('hello.greet').catch((e: unknown) => e)
    expect(CoreError.is(error, 'E_SERVICE_NOT_FOUND')).toBe(true)
    await hub.stop()
  })
})
