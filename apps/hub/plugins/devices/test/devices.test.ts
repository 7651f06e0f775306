import { CoreError, type StateChange } from '@core/contracts'
import { createMemoryAdapter, createStorage } from '@core/storage'
import { createMockHub, type MockHub } from '@core/testing'
import { afterEach, describe, expect, it } from 'vitest'
import devices, { type Device } from '../src/index.js'

const packageDir = new URL('..', import.meta.url)
const plugin = { packageDir, plugin: devices }

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

describe('devices plugin', () => {
  it('adds a device into state, derives its id from its name and publishes devices.<id>.added', async () => {
    hub = await createMockHub({ plugins: [plugin] })
    const lamp = await hub.call<Device>('devices.add', {
      name: 'Kitchen Lamp',
      type: 'light',
      room: 'kitchen',
    })
    expect(lamp).toEqual({
      id: 'kitchen-lamp',
      name: 'Kitchen Lamp',
      type: 'light',
      room: 'kitchen',
      state: {},
    })
    expect((await hub.state.get('devices', 'kitchen-lamp'))?.value).toEqual(lamp)
    const added = await hub.expectEvent<{ device: Device }>('devices.*.added')
    expect(added.type).toBe('devices.kitchen-lamp.added')
    expect(added.data.device).toEqual(lamp)
    await hub.expectEvent<StateChange>('state.devices.kitchen-lamp', { where: { reason: 'set' } })
  })

  it('refuses a second device with the same id with E_CONFLICT', async () => {
    hub = await createMockHub({ plugins: [plugin] })
    await hub.call('devices.add', { id: 'plug', name: 'Plug' })
    const e = await error(hub.call('devices.add', { id: 'plug', name: 'Other plug' }))
    expect(CoreError.is(e, 'E_CONFLICT')).toBe(true)
    expect((e as Error).message).toContain('"plug"')
  })

  it('refuses a malformed id or a name giving no id with E_VALIDATION', async () => {
    hub = await createMockHub({ plugins: [plugin] })
    expect(
      CoreError.is(
        await error(hub.call('devices.add', { id: 'Bad Id', name: 'x' })),
        'E_VALIDATION',
      ),
    ).toBe(true)
    expect(
      CoreError.is(await error(hub.call('devices.add', { name: '!!!' })), 'E_VALIDATION'),
    ).toBe(true)
    expect(
      CoreError.is(
        await error(hub.call('devices.add', { name: 'x', colour: 'red' })),
        'E_VALIDATION',
      ),
    ).toBe(true)
  })

  it('lists devices sorted by id, filtered by type and room', async () => {
    hub = await createMockHub({ plugins: [plugin] })
    await hub.call('devices.add', { id: 'b-sensor', name: 'Door', type: 'sensor', room: 'hall' })
    await hub.call('devices.add', { id: 'a-light', name: 'Ceiling', type: 'light', room: 'hall' })
    await hub.call('devices.add', { id: 'c-light', name: 'Desk', type: 'light', room: 'office' })
    const ids = (list: Device[]): string[] => list.map((d) => d.id)
    expect(ids(await hub.call('devices.list'))).toEqual(['a-light', 'b-sensor', 'c-light'])
    expect(ids(await hub.call('devices.list', { type: 'light' }))).toEqual(['a-light', 'c-light'])
    expect(ids(await hub.call('devices.list', { room: 'hall', type: 'light' }))).toEqual([
      'a-light',
    ])
  })

  it('renames a device and publishes devices.<id>.renamed', async () => {
    hub = await createMockHub({ plugins: [plugin] })
    await hub.call('devices.add', { id: 'lamp', name: 'Lamp' })
    expect(await hub.call('devices.rename', { id: 'lamp', name: 'Reading lamp' })).toMatchObject({
      name: 'Reading lamp',
    })
    const renamed = await hub.expectEvent('devices.lamp.renamed')
    expect(renamed.data).toEqual({ id: 'lamp', name: 'Reading lamp', previous: 'Lamp' })
    expect(await hub.call('devices.get', { id: 'lamp' })).toMatchObject({ name: 'Reading lamp' })
  })

  it('merges state, publishes only real changes, and replaces state on request', async () => {
    hub = await createMockHub({ plugins: [plugin] })
    await hub.call('devices.add', {
      id: 'lamp',
      name: 'Lamp',
      state: { on: false, brightness: 10 },
    })
    const on = await hub.call<Device>('devices.set-state', { id: 'lamp', state: { on: true } })
    expect(on.state).toEqual({ on: true, brightness: 10 })
    const changed = await hub.expectEvent('devices.lamp.state-changed')
    expect(changed.data).toEqual({
      id: 'lamp',
      state: { on: true, brightness: 10 },
      changed: { on: true },
      previous: { on: false, brightness: 10 },
    })
    await hub.call('devices.set-state', { id: 'lamp', state: { on: true } })
    await hub.settle()
    expect(hub.events('devices.lamp.state-changed')).toHaveLength(1)
    const replaced = await hub.call<Device>('devices.set-state', {
      id: 'lamp',
      state: { on: false },
      replace: true,
    })
    expect(replaced.state).toEqual({ on: false })
    const second = await hub.expectEvent('devices.lamp.state-changed')
    expect(second.data).toMatchObject({ changed: { on: false, brightness: null } })
  })

  it('removes a device and answers E_NOT_FOUND for it afterwards, naming the known devices', async () => {
    hub = await createMockHub({ plugins: [plugin] })
    await hub.call('devices.add', { id: 'lamp', name: 'Lamp' })
    await hub.call('devices.add', { id: 'fan', name: 'Fan' })
    expect(await hub.call('devices.remove', { id: 'lamp' })).toEqual({ id: 'lamp', removed: true })
    await hub.expectEvent('devices.lamp.removed')
    for (const call of [
      'devices.get',
      'devices.remove',
      'devices.set-state',
      'devices.rename',
    ] as const) {
      const params =
        call === 'devices.set-state'
          ? { id: 'lamp', state: {} }
          : call === 'devices.rename'
            ? { id: 'lamp', name: 'x' }
            : { id: 'lamp' }
      const e = await error(hub.call(call, params))
      expect(CoreError.is(e, 'E_NOT_FOUND')).toBe(true)
      expect((e as Error).message).toContain('known devices: fan')
    }
  })

  it('keeps concurrent state updates of one device (none lost)', async () => {
    hub = await createMockHub({ plugins: [plugin] })
    await hub.call('devices.add', { id: 'panel', name: 'Panel' })
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        hub?.call('devices.set-state', { id: 'panel', state: { [`k${i}`]: i } }),
      ),
    )
    const panel = await hub.call<Device>('devices.get', { id: 'panel' })
    expect(Object.keys(panel.state)).toHaveLength(20)
  })

  it('restores devices after a restart: the kernel persists its state namespace', async () => {
    const storage = createStorage(createMemoryAdapter())
    hub = await createMockHub({ plugins: [plugin], storage })
    await hub.call('devices.add', { id: 'lamp', name: 'Lamp' })
    await hub.call('devices.set-state', { id: 'lamp', state: { on: true } })
    await hub.call('devices.add', { id: 'fan', name: 'Fan' })
    await hub.call('devices.remove', { id: 'fan' })
    await hub.stop()
    hub = await createMockHub({ plugins: [plugin], storage })
    expect(await hub.call('devices.get', { id: 'lamp' })).toMatchObject({ state: { on: true } })
    expect((await hub.call<Device[]>('devices.list')).map((d) => d.id)).toEqual(['lamp'])
    await hub.stop()
    await storage.close()
  })

  it('moves devices kept as storage documents by earlier versions into state, once', async () => {
    const storage = createStorage(createMemoryAdapter())
    const legacy = { id: 'lamp', name: 'Lamp', type: 'light', state: { on: true } }
    await storage.set('devices', 'lamp', legacy)
    hub = await createMockHub({ plugins: [plugin], storage })
    expect(await hub.call('devices.get', { id: 'lamp' })).toMatchObject({ state: { on: true } })
    expect(await storage.count('devices')).toBe(0)
    await hub.stop()
    hub = await createMockHub({ plugins: [plugin], storage })
    expect(await hub.call('devices.get', { id: 'lamp' })).toMatchObject({ name: 'Lamp' })
    await hub.stop()
    await storage.close()
  })

  it('refuses the config option persist of earlier versions with a clear E_VALIDATION', async () => {
    await expect(
      createMockHub({ plugins: [plugin], config: { devices: { persist: false } } }),
    ).rejects.toSatisfy((e: unknown) => /config\.devices/.test(String((e as Error).message)))
  })

  it('lets another plugin read devices only through its permissions', async () => {
    hub = await createMockHub({
      plugins: [
        plugin,
        {
          manifest: {
            name: 'ui',
            coreApi: '^1.0.0',
            permissions: { services: { call: ['devices.list'] } },
          },
          plugin: { setup: () => undefined },
        },
      ],
    })
    await hub.call('devices.add', { id: 'lamp', name: 'Lamp' })
    expect(await hub.as('ui').call('devices.list')).toHaveLength(1)
    expect(
      CoreError.is(await error(hub.as('ui').call('devices.remove', { id: 'lamp' })), 'E_FORBIDDEN'),
    ).toBe(true)
    expect(
      CoreError.is(await error(hub.as('ui').ctx.state.get('devices', 'lamp')), 'E_FORBIDDEN'),
    ).toBe(true)
  })
})
