import { type CloudEvent, CoreError, silentLogger } from '@core/contracts'
import { describe, expect, it } from 'vitest'
import { createKernel, type InlinePlugin, SECURITY_DENIED_EVENT } from '../src/index.js'

const policy = {
  version: 1 as const,
  rules: [
    { effect: 'allow' as const, subject: 'token:*', action: '*', resource: '#' },
    { effect: 'deny' as const, subject: 'token:*', action: 'services.call', resource: 'locks.#' },
    { effect: 'allow' as const, subject: 'node:hub-b', action: 'events.publish', resource: '#' },
    { effect: 'deny' as const, subject: 'user:intruder', action: '*', resource: '#' },
  ],
}

describe('kernel.security', () => {
  it('lets everything through without a policy', () => {
    const kernel = createKernel({ logger: silentLogger })
    expect(kernel.security.policy).toBeUndefined()
    expect(() =>
      kernel.security.authorize({ subject: 'token:x', action: 'services.call', resource: 'a.b' }),
    ).not.toThrow()
    expect(
      kernel.security.allows({ subject: 'user:y', action: 'state.write', resource: 'a.b' }),
    ).toBe(true)
  })

  it('refuses with E_FORBIDDEN naming the rule, publishes core.security.denied and counts it', async () => {
    const kernel = createKernel({ logger: silentLogger, policy })
    const events: CloudEvent[] = []
    kernel.bus.subscribe(SECURITY_DENIED_EVENT, (e) => {
      events.push(e)
    })
    kernel.security.authorize({
      subject: 'token:t1',
      action: 'services.call',
      resource: 'lights.on',
    })
    let error: unknown
    try {
      kernel.security.authorize({
        subject: 'token:t1',
        action: 'services.call',
        resource: 'locks.front.open',
        via: 'http',
      })
    } catch (e) {
      error = e
    }
    expect(CoreError.is(error, 'E_FORBIDDEN')).toBe(true)
    expect((error as Error).message).toContain('rule 1 (deny token:* services.call locks.#)')
    expect((error as CoreError).details).toMatchObject({ subject: 'token:t1', rule: 1 })
    await expect.poll(() => events.length).toBe(1)
    expect(events[0]?.data).toEqual({
      subject: 'token:t1',
      action: 'services.call',
      resource: 'locks.front.open',
      reason: (error as Error).message,
      rule: 1,
    })
    expect(kernel.security.counts()).toEqual({ 'token services.call': 1 })
    const text = await kernel.metrics.metrics()
    expect(text).toContain('core_security_denials_total{kind="token",action="services.call"} 1')
  })

  it('denies by default a subject no rule names, and reports a refusal decided elsewhere', () => {
    const kernel = createKernel({ logger: silentLogger, policy })
    expect(
      kernel.security.allows({ subject: 'node:hub-c', action: 'events.publish', resource: 'a' }),
    ).toBe(false)
    kernel.security.report({
      subject: 'token:t2',
      action: 'state.write',
      resource: 'x.y',
      reason: 'scope',
    })
    expect(kernel.security.counts()).toEqual({ 'token state.write': 1 })
  })

  it('weighs several subjects: an allow of one is enough, a deny of any refuses', () => {
    const kernel = createKernel({ logger: silentLogger, policy })
    const ask = (subject: string[]) =>
      kernel.security.allows({ subject, action: 'events.publish', resource: 'lights.on' })
    expect(ask(['node:hub-b', 'user:guest'])).toBe(true)
    expect(ask(['node:hub-b', 'user:intruder'])).toBe(false)
    expect(ask(['node:hub-c', 'user:guest'])).toBe(false)
  })

  it("counts a plugin's refusals under the plugin kind", async () => {
    const probe: InlinePlugin = {
      manifest: { name: 'probe', coreApi: '^1.0.0' },
      plugin: {
        setup(ctx) {
          ctx.services.register(
            'probe.try',
            async () => {
              try {
                await ctx.events.publish('lights.on', {})
                return 'published'
              } catch (error) {
                return (error as CoreError).code
              }
            },
            { params: {} },
          )
        },
      },
    }
    const kernel = createKernel({ logger: silentLogger, plugins: [probe] })
    await kernel.start()
    expect(await kernel.services.call('probe.try', {})).toBe('E_FORBIDDEN')
    expect(kernel.security.counts()).toEqual({ 'plugin events.publish': 1 })
    await kernel.stop()
  })
})
