import { CoreError } from '@core/contracts'
import { createMemoryAdapter, createStorage } from '@core/storage'
import { createMockHub, type MockHub } from '@core/testing'
import { afterEach, describe, expect, it } from 'vitest'
import automation, { type Rule, type RuleView } from '../src/index.js'

const packageDir = new URL('..', import.meta.url)
const plugin = { packageDir, plugin: automation }

let hub: MockHub | undefined
afterEach(async () => {
  await hub?.stop()
  hub = undefined
})

const error = (p: Promise<unknown>): Promise<unknown> =>
  p.then(
    () => undefined,
    (e: unknown) => e,
  )

/** "When the door contact opens (contact: false), turn the hall light on." */
const doorLight: Rule = {
  id: 'door-light',
  description: 'Door opens → hall light on',
  when: {
    event: 'devices.*.state-changed',
    conditions: [
      { path: 'data.id', op: 'eq', value: 'door' },
      { path: 'data.changed.contact', op: 'eq', value: false },
    ],
  },
  action: { call: 'devices.set-state', params: { id: 'hall-light', state: { on: true } } },
}

const stubs = () => ({ 'devices.set-state': (p: unknown) => ({ ok: true, p }) })

describe('automation plugin', () => {
  it('calls the rule service, as the automation plugin, when a matching event satisfies the conditions', async () => {
    hub = await createMockHub({ plugins: [plugin], services: stubs() })
    expect(await hub.call<RuleView>('automation.add', doorLight)).toMatchObject({
      id: 'door-light',
      stats: { fired: 0 },
    })
    await hub.publish('devices.door.state-changed', { id: 'door', changed: { contact: false } })
    const call = await hub.expectCall('devices.set-state')
    expect(call).toMatchObject({
      caller: 'automation',
      ok: true,
      params: { id: 'hall-light', state: { on: true } },
    })
    const fired = await hub.expectEvent('automation.door-light.fired')
    expect(fired.data).toMatchObject({
      rule: 'door-light',
      trigger: { type: 'devices.door.state-changed' },
      call: 'devices.set-state',
    })
    const [rule] = await hub.call<RuleView[]>('automation.list')
    expect(rule?.stats).toMatchObject({ fired: 1, failed: 0, lastFiredAt: fired.time })
  })

  it('does not call when a condition fails or the event does not match', async () => {
    hub = await createMockHub({ plugins: [plugin], services: stubs() })
    await hub.call('automation.add', doorLight)
    await hub.publish('devices.door.state-changed', { id: 'door', changed: { contact: true } })
    await hub.publish('devices.window.state-changed', { id: 'window', changed: { contact: false } })
    await hub.publish('devices.door.renamed', { id: 'door', changed: { contact: false } })
    await hub.settle()
    expect(hub.calls('devices.set-state')).toEqual([])
    expect((await hub.call<RuleView>('automation.get', { id: 'door-light' })).stats).toMatchObject({
      fired: 0,
      skipped: 2,
    })
  })

  it('fills params from the event with { $from: path }', async () => {
    hub = await createMockHub({ plugins: [plugin], services: { 'notify.send': () => 'sent' } })
    await hub.call('automation.add', {
      id: 'hot',
      when: {
        event: 'sensors.*.temperature',
        conditions: [{ path: 'data.celsius', op: 'gte', value: 30 }],
      },
      action: {
        call: 'notify.send',
        params: {
          text: 'hot',
          where: { $from: 'subject' },
          celsius: { $from: 'data.celsius' },
          x: { $from: 'data.nope' },
        },
      },
    })
    await hub.publish('sensors.attic.temperature', { celsius: 29.5 }, { subject: 'attic' })
    await hub.publish('sensors.attic.temperature', { celsius: 31 }, { subject: 'attic' })
    const call = await hub.expectCall('notify.send')
    expect(call.params).toEqual({ text: 'hot', where: 'attic', celsius: 31, x: null })
    expect(hub.calls('notify.send')).toHaveLength(1)
  })

  it('keeps rules in storage: they are armed again after a restart', async () => {
    const storage = createStorage(createMemoryAdapter())
    hub = await createMockHub({ plugins: [plugin], services: stubs(), storage })
    await hub.call('automation.add', doorLight)
    await hub.stop()
    hub = await createMockHub({ plugins: [plugin], services: stubs(), storage })
    expect((await hub.call<RuleView[]>('automation.list')).map((r) => r.id)).toEqual(['door-light'])
    await hub.publish('devices.door.state-changed', { id: 'door', changed: { contact: false } })
    await hub.expectCall('devices.set-state')
    await hub.stop()
    await storage.close()
  })

  it('stops firing a removed rule and forgets it in storage', async () => {
    hub = await createMockHub({ plugins: [plugin], services: stubs() })
    await hub.call('automation.add', doorLight)
    expect(await hub.call('automation.remove', { id: 'door-light' })).toEqual({
      id: 'door-light',
      removed: true,
    })
    await hub.publish('devices.door.state-changed', { id: 'door', changed: { contact: false } })
    await hub.settle()
    expect(hub.calls('devices.set-state')).toEqual([])
    expect(await hub.storage.has('automation', 'door-light')).toBe(false)
    const e = await error(hub.call('automation.remove', { id: 'door-light' }))
    expect(CoreError.is(e, 'E_NOT_FOUND')).toBe(true)
  })

  it('keeps a disabled rule without running it', async () => {
    hub = await createMockHub({ plugins: [plugin], services: stubs() })
    await hub.call('automation.add', { ...doorLight, enabled: false })
    await hub.publish('devices.door.state-changed', { id: 'door', changed: { contact: false } })
    await hub.settle()
    expect(hub.calls('devices.set-state')).toEqual([])
  })

  it('publishes automation.<id>.failed with the error when the call fails', async () => {
    hub = await createMockHub({
      plugins: [plugin],
      services: {
        'devices.set-state': () => {
          throw new CoreError('E_NOT_FOUND', 'No device "hall-light"')
        },
      },
    })
    await hub.call('automation.add', doorLight)
    await hub.publish('devices.door.state-changed', { id: 'door', changed: { contact: false } })
    const failed = await hub.expectEvent('automation.door-light.failed')
    expect(failed.data).toMatchObject({
      error: { code: 'E_NOT_FOUND', message: 'No device "hall-light"' },
    })
    expect((await hub.call<RuleView>('automation.get', { id: 'door-light' })).stats.failed).toBe(1)
    expect(hub.logs('warn').some((l) => l.msg?.includes('door-light'))).toBe(true)
  })

  it('does not deadlock when the called service publishes an event the rule matches', async () => {
    let echoes = 0
    hub = await createMockHub({
      plugins: [plugin],
      services: {
        'echo.ping': async () => {
          if (echoes++ === 0) await hub?.publish('sensor.a.changed', { n: 2 })
          return echoes
        },
      },
    })
    await hub.call('automation.add', {
      id: 'echo',
      when: { event: 'sensor.*.changed' },
      action: { call: 'echo.ping' },
    })
    await hub.publish('sensor.a.changed', { n: 1 })
    await hub.expectEvent('automation.echo.fired')
    await hub.expectEvent('automation.echo.fired')
    expect(echoes).toBe(2)
  })

  it('refuses bad rules with clear errors and stores nothing', async () => {
    hub = await createMockHub({ plugins: [plugin], config: { automation: { maxRules: 1 } } })
    const bad: Array<[unknown, string]> = [
      [{ ...doorLight, id: 'Bad Id' }, 'E_VALIDATION'],
      [{ ...doorLight, when: { event: 'devices..x' } }, 'E_VALIDATION'],
      [{ ...doorLight, action: { call: 'nodot' } }, 'E_VALIDATION'],
      [
        {
          ...doorLight,
          when: { event: 'a.b', conditions: [{ path: 'data.x', op: 'matches', value: '.*' }] },
        },
        'E_VALIDATION',
      ],
      [
        {
          ...doorLight,
          when: { event: 'a.b', conditions: [{ path: 'data.x', op: 'gt', value: [] }] },
        },
        'E_VALIDATION',
      ],
      [{ ...doorLight, extra: true }, 'E_VALIDATION'],
    ]
    for (const [rule, code] of bad) {
      const e = await error(hub.call('automation.add', rule))
      expect(CoreError.is(e, code as 'E_VALIDATION'), JSON.stringify(rule)).toBe(true)
    }
    expect(await hub.storage.count('automation')).toBe(0)
    await hub.call('automation.add', doorLight)
    expect(CoreError.is(await error(hub.call('automation.add', doorLight)), 'E_CONFLICT')).toBe(
      true,
    )
    expect(
      CoreError.is(
        await error(hub.call('automation.add', { ...doorLight, id: 'two' })),
        'E_OVERFLOW',
      ),
    ).toBe(true)
  })
})
