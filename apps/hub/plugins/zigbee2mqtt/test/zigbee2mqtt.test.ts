import { readFile } from 'node:fs/promises'
import { CoreError, filterToPattern, topicToWords } from '@core/contracts'
import { createMemoryAdapter, createStorage } from '@core/storage'
import { createMockHub, type MockHub } from '@core/testing'
import fc from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'
import zigbee2mqtt, { type BridgeInfo, type ZigbeeDevice } from '../src/index.js'

const packageDir = new URL('..', import.meta.url)
const plugin = { packageDir, plugin: zigbee2mqtt }

interface Recorded {
  topic: string
  payload: unknown
  retain?: boolean
}
const recording = JSON.parse(
  await readFile(
    new URL('../../../../../tools/z2m-replay/recording.json', import.meta.url),
    'utf8',
  ),
) as { messages: Recorded[]; scenarios: Record<string, Recorded[]> }
const DEVICES = recording.messages.find((m) => m.topic === 'bridge/devices')?.payload as Array<
  Record<string, unknown>
>

let hub: MockHub | undefined
afterEach(async () => {
  await hub?.stop()
  hub = undefined
})

/** Stubs of the MQTT bridge's services, recording what the plugin published. */
function mqttStubs(published: Array<{ topic: string; payload: unknown; qos?: number }> = []) {
  return {
    'mqtt.subscribe': (p: { filter: string }) => ({
      pattern: filterToPattern(p.filter),
    }),
    'mqtt.unsubscribe': () => ({ released: true }),
    'mqtt.publish': (p: { topic: string; payload: unknown; qos?: number }) => {
      published.push(p)
    },
  }
}

async function boot(
  options: {
    config?: Record<string, unknown>
    published?: Array<{ topic: string; payload: unknown }>
  } = {},
): Promise<MockHub> {
  hub = await createMockHub({
    plugins: [plugin],
    services: mqttStubs(options.published),
    config: options.config === undefined ? {} : { zigbee2mqtt: options.config },
  })
  return hub
}

/** Publishes a message on the bus as the MQTT bridge would (string payloads parsed when JSON). */
async function deliver(h: MockHub, topic: string, payload: unknown, retain = false): Promise<void> {
  let data = payload
  if (typeof payload === 'string') {
    try {
      data = JSON.parse(payload)
    } catch {
      data = payload
    }
  }
  await h.publish(`mqtt.message.${topicToWords(topic)}`, {
    topic,
    payload: data,
    retain,
    qos: 0,
  })
  await h.settle()
}

async function replayAll(h: MockHub, base = 'zigbee2mqtt'): Promise<void> {
  for (const m of recording.messages) await deliver(h, `${base}/${m.topic}`, m.payload, m.retain)
}

async function device(h: MockHub, key: string): Promise<ZigbeeDevice | undefined> {
  return (await h.state.get<ZigbeeDevice>('zigbee2mqtt', key))?.value
}

const codeOf = (p: Promise<unknown>): Promise<unknown> =>
  p.then(
    () => 'resolved',
    (e: unknown) => (CoreError.is(e) ? e : e),
  )

describe('zigbee2mqtt plugin', () => {
  it('subscribes to <base>/# through mqtt.subscribe when it starts, and releases it when it stops', async () => {
    const h = await boot()
    const call = await h.expectCall('mqtt.subscribe')
    expect(call).toMatchObject({
      caller: 'zigbee2mqtt',
      params: { filter: 'zigbee2mqtt/#', qos: 1 },
    })
    await h.plugins.stop('zigbee2mqtt')
    expect((await h.expectCall('mqtt.unsubscribe')).params).toEqual({ filter: 'zigbee2mqtt/#' })
  })

  it('learns the devices from bridge/devices, leaving the coordinator out', async () => {
    const h = await boot()
    await replayAll(h)
    const keys = (await h.state.list('zigbee2mqtt')).map((e) => e.key)
    expect(keys.filter((k) => !k.startsWith('exposes.'))).toEqual([
      'bridge',
      'devices.bathroom.climate',
      'devices.coffee%20machine',
      'devices.front_door',
      'devices.living_room.ceiling',
    ])
    // Each device's exposes, by IEEE address (kept across renames).
    expect(keys.filter((k) => k.startsWith('exposes.'))).toHaveLength(4)
    expect(keys).toContain('exposes.0x000b57fffec6a5b2')
    expect(await device(h, 'devices.living_room.ceiling')).toMatchObject({
      ieee_address: '0x000b57fffec6a5b2',
      friendly_name: 'living_room/ceiling',
      model: 'LED1545G12',
      vendor: 'IKEA',
      kind: 'light',
      commands: {
        onOff: true,
        brightness: { min: 0, max: 254 },
        color_temp: { min: 250, max: 454 },
      },
    })
    expect((await device(h, 'devices.coffee%20machine'))?.kind).toBe('switch')
    expect((await device(h, 'devices.front_door'))?.kind).toBe('sensor')
    expect((await h.state.get<BridgeInfo>('zigbee2mqtt', 'bridge'))?.value).toEqual({
      state: 'online',
      devices: 4,
      rejected: 0,
      refused: 0,
      persistFailures: 0,
      lastPersistError: null,
    })
    const list = await h.call<ZigbeeDevice[]>('zigbee2mqtt.list', { kind: 'light' })
    expect(list.map((d) => d.friendly_name)).toEqual(['living_room/ceiling'])
  })

  it('mirrors each device state message and both availability forms into state', async () => {
    const h = await boot()
    await replayAll(h)
    expect(await device(h, 'devices.living_room.ceiling')).toMatchObject({
      availability: 'online',
      state: { state: 'OFF', brightness: 180, color_temp: 370 },
    })
    // bathroom/climate uses the legacy plain-string availability.
    expect(await device(h, 'devices.bathroom.climate')).toMatchObject({
      availability: 'online',
      state: { temperature: 21.34, humidity: 48.61, battery: 87 },
    })
    await deliver(h, 'zigbee2mqtt/bathroom/climate/availability', 'offline', true)
    await deliver(h, 'zigbee2mqtt/front_door/availability', '{"state":"offline"}', true)
    expect((await device(h, 'devices.bathroom.climate'))?.availability).toBe('offline')
    expect((await device(h, 'devices.front_door'))?.availability).toBe('offline')
    const event = await h.expectEvent('zigbee2mqtt.device.front_door.availability-changed', {
      where: { availability: 'offline' },
    })
    expect(event.data).toMatchObject({
      device: 'front_door',
      availability: 'offline',
      previous: 'online',
    })
  })

  it('applies messages that arrived before bridge/devices once the device is known', async () => {
    const h = await boot()
    await deliver(h, 'zigbee2mqtt/front_door', { contact: true, battery: 90 })
    await deliver(h, 'zigbee2mqtt/front_door/availability', { state: 'online' }, true)
    expect(await device(h, 'devices.front_door')).toBeUndefined()
    await deliver(h, 'zigbee2mqtt/bridge/devices', DEVICES, true)
    expect(await device(h, 'devices.front_door')).toMatchObject({
      availability: 'online',
      state: { contact: true, battery: 90 },
    })
  })

  it('publishes state-changed with what changed when the contact sensor opens', async () => {
    const h = await boot()
    await replayAll(h)
    h.clear()
    for (const m of recording.scenarios['contact-open'] ?? [])
      await deliver(h, `zigbee2mqtt/${m.topic}`, m.payload)
    const event = await h.expectEvent('zigbee2mqtt.device.front_door.state-changed')
    expect(event.source).toBe('/plugins/zigbee2mqtt')
    expect(event.data).toMatchObject({
      device: 'front_door',
      ieee_address: '0x00158d0001e8c2d1',
      changed: { contact: false, trigger_count: 1, linkquality: 60 },
      previous: { contact: true },
      state: { contact: false, battery: 91 },
    })
    // The same state again changes nothing and publishes nothing.
    h.clear()
    for (const m of recording.scenarios['contact-open'] ?? [])
      await deliver(h, `zigbee2mqtt/${m.topic}`, m.payload)
    expect(h.events('zigbee2mqtt.#')).toEqual([])
  })

  it('turns a light on with brightness and colour temperature as the documented /set payload', async () => {
    const published: Array<{ topic: string; payload: unknown; qos?: number }> = []
    const h = await boot({ published })
    await replayAll(h)
    const result = await h.call('zigbee2mqtt.turn_on', {
      device: 'living_room/ceiling',
      brightness: 200,
      color_temp: 300,
      transition: 2,
    })
    const expected = {
      topic: 'zigbee2mqtt/living_room/ceiling/set',
      payload: { state: 'ON', brightness: 200, color_temp: 300, transition: 2 },
    }
    expect(result).toEqual(expected)
    expect(published).toEqual([{ ...expected, qos: 1 }])
    expect((await h.expectCall('mqtt.publish')).caller).toBe('zigbee2mqtt')
    await h.call('zigbee2mqtt.turn_off', { device: 'living_room/ceiling' })
    await h.call('zigbee2mqtt.toggle', { device: 'coffee machine' })
    await h.call('zigbee2mqtt.turn_on', { device: 'coffee machine' })
    expect(published.slice(1).map((p) => [p.topic, p.payload])).toEqual([
      ['zigbee2mqtt/living_room/ceiling/set', { state: 'OFF' }],
      ['zigbee2mqtt/coffee machine/set', { state: 'TOGGLE' }],
      ['zigbee2mqtt/coffee machine/set', { state: 'ON' }],
    ])
  })

  it('refuses brightness and color_temp outside the exposed ranges with E_VALIDATION naming the range', async () => {
    const published: Array<{ topic: string; payload: unknown }> = []
    const h = await boot({ published })
    await replayAll(h)
    const bright = (await codeOf(
      h.call('zigbee2mqtt.turn_on', { device: 'living_room/ceiling', brightness: 255 }),
    )) as CoreError
    expect(bright.code).toBe('E_VALIDATION')
    expect(bright.message).toMatch(/brightness 255/)
    expect(bright.message).toMatch(/0–254/)
    const temp = (await codeOf(
      h.call('zigbee2mqtt.turn_on', { device: 'living_room/ceiling', color_temp: 153 }),
    )) as CoreError
    expect(temp.code).toBe('E_VALIDATION')
    expect(temp.message).toMatch(/250–454 mired/)
    expect(temp.details).toMatchObject({
      device: 'living_room/ceiling',
      property: 'color_temp',
      min: 250,
      max: 454,
    })
    const plug = (await codeOf(
      h.call('zigbee2mqtt.turn_on', { device: 'coffee machine', brightness: 10 }),
    )) as CoreError
    expect(plug.code).toBe('E_VALIDATION')
    expect(plug.message).toMatch(/no brightness/)
    const sensor = (await codeOf(
      h.call('zigbee2mqtt.toggle', { device: 'front_door' }),
    )) as CoreError
    expect(sensor.code).toBe('E_VALIDATION')
    expect(sensor.message).toMatch(/lights and switches: "coffee machine", "living_room\/ceiling"/)
    expect(published).toEqual([])
  })

  it('accepts any in-range brightness and colour temperature (property)', async () => {
    const published: Array<{ topic: string; payload: unknown }> = []
    const h = await boot({ published })
    await replayAll(h)
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: -50, max: 300 }),
        fc.integer({ min: 100, max: 600 }),
        async (b, t) => {
          const outcome = await codeOf(
            h.call('zigbee2mqtt.turn_on', {
              device: 'living_room/ceiling',
              brightness: b,
              color_temp: t,
            }),
          )
          const ok = b >= 0 && b <= 254 && t >= 250 && t <= 454
          if (ok) expect(outcome).toBe('resolved')
          else expect((outcome as CoreError).code).toBe('E_VALIDATION')
        },
      ),
      { numRuns: 150 },
    )
  })

  it('refuses unknown devices with E_NOT_FOUND listing the known ones', async () => {
    const h = await boot()
    const before = (await codeOf(h.call('zigbee2mqtt.turn_on', { device: 'kitchen' }))) as CoreError
    expect(before.code).toBe('E_NOT_FOUND')
    expect(before.message).toMatch(/waiting for zigbee2mqtt\/bridge\/devices/)
    await replayAll(h)
    const after = (await codeOf(
      h.call('zigbee2mqtt.set', { device: 'kitchen', payload: { state: 'ON' } }),
    )) as CoreError
    expect(after.code).toBe('E_NOT_FOUND')
    expect(after.message).toContain(
      '"bathroom/climate", "coffee machine", "front_door", "living_room/ceiling"',
    )
  })

  it('publishes zigbee2mqtt.set payloads checked against the exposes', async () => {
    const published: Array<{ topic: string; payload: unknown }> = []
    const h = await boot({ published })
    await replayAll(h)
    await h.call('zigbee2mqtt.set', {
      device: 'living_room/ceiling',
      payload: { color_temp: 'warmest', effect: 'blink', brightness_step: 20 },
    })
    expect(published[0]).toMatchObject({
      topic: 'zigbee2mqtt/living_room/ceiling/set',
      payload: { color_temp: 'warmest', effect: 'blink', brightness_step: 20 },
    })
    for (const [payload, pattern] of [
      [{ effect: 'disco' }, /use one of "blink"/],
      [{ state: 'MAYBE' }, /use "ON", "OFF", "TOGGLE"/],
      [{ brightness: 'full' }, /use a number/],
    ] as const) {
      const error = (await codeOf(
        h.call('zigbee2mqtt.set', { device: 'living_room/ceiling', payload }),
      )) as CoreError
      expect(error.code).toBe('E_VALIDATION')
      expect(error.message).toMatch(pattern)
    }
    const readOnly = (await codeOf(
      h.call('zigbee2mqtt.set', { device: 'front_door', payload: { contact: false } }),
    )) as CoreError
    expect(readOnly.message).toMatch(/read-only/)
    const empty = (await codeOf(
      h.call('zigbee2mqtt.set', { device: 'front_door', payload: {} }),
    )) as CoreError
    expect(empty.code).toBe('E_VALIDATION')
    expect(published).toHaveLength(1)
  })

  it('logs and counts non-JSON and malformed messages, and keeps working', async () => {
    const h = await boot()
    await replayAll(h)
    await deliver(h, 'zigbee2mqtt/front_door', 'garbage{')
    await deliver(h, 'zigbee2mqtt/front_door/availability', 'maybe')
    await deliver(h, 'zigbee2mqtt/bridge/devices', '{"not":"a list"}')
    await deliver(h, 'zigbee2mqtt/bridge/state', 42)
    expect((await h.state.get<BridgeInfo>('zigbee2mqtt', 'bridge'))?.value.rejected).toBe(4)
    const warnings = h.logs('warn').map((l) => l.msg ?? '')
    expect(warnings.some((m) => /front_door.*must be a JSON object/.test(m))).toBe(true)
    expect(warnings.some((m) => /availability must be/.test(m))).toBe(true)
    expect(h.logs('error')).toEqual([])
    await deliver(h, 'zigbee2mqtt/front_door', { contact: false })
    expect((await device(h, 'devices.front_door'))?.state.contact).toBe(false)
    expect((await device(h, 'devices.front_door'))?.availability).toBe('online')
  })

  it('moves a renamed device to its new key and drops a removed one', async () => {
    const h = await boot()
    await replayAll(h)
    const renamed = DEVICES.filter((d) => d.friendly_name !== 'coffee machine').map((d) =>
      d.friendly_name === 'front_door' ? { ...d, friendly_name: 'hall/front door' } : d,
    )
    h.clear()
    await deliver(h, 'zigbee2mqtt/bridge/devices', renamed, true)
    expect(await device(h, 'devices.front_door')).toBeUndefined()
    expect(await device(h, 'devices.coffee%20machine')).toBeUndefined()
    expect(await device(h, 'devices.hall.front%20door')).toMatchObject({
      friendly_name: 'hall/front door',
      state: { contact: true },
      availability: 'online',
    })
    const event = await h.expectEvent('zigbee2mqtt.bridge.devices-changed')
    expect(event.data).toEqual({
      added: [],
      removed: ['coffee machine'],
      renamed: [{ from: 'front_door', to: 'hall/front door', ieee_address: '0x00158d0001e8c2d1' }],
    })
    await deliver(h, 'zigbee2mqtt/hall/front door', { contact: false })
    await h.expectEvent('zigbee2mqtt.device.hall.front%20door.state-changed')
  })

  it('restores the last known devices and states from storage after a restart', async () => {
    const storage = createStorage(createMemoryAdapter())
    const published: Array<{ topic: string; payload: unknown }> = []
    hub = await createMockHub({ plugins: [plugin], services: mqttStubs(), storage })
    await replayAll(hub)
    await hub.stop()
    hub = await createMockHub({ plugins: [plugin], services: mqttStubs(published), storage })
    expect(await device(hub, 'devices.living_room.ceiling')).toMatchObject({
      state: { brightness: 180 },
    })
    await hub.call('zigbee2mqtt.turn_on', { device: 'living_room/ceiling', brightness: 10 })
    expect(published).toHaveLength(1)
    await hub.stop()
    hub = undefined
    await storage.close?.()
  })

  it('moves devices kept as storage documents by earlier versions into state, once', async () => {
    hub = await createMockHub({ plugins: [plugin], services: mqttStubs() })
    await replayAll(hub)
    const lamp = (await device(hub, 'devices.living_room.ceiling')) as ZigbeeDevice
    const exposes = (await hub.state.get('zigbee2mqtt', `exposes.${lamp.ieee_address}`))?.value
    await hub.stop()
    // As an earlier version left it: documents of its own in its storage namespace.
    const legacy = createStorage(createMemoryAdapter())
    await legacy.set('zigbee2mqtt', `device.${lamp.ieee_address}`, lamp)
    await legacy.set('zigbee2mqtt', `exposes.${lamp.ieee_address}`, exposes)
    const published: Array<{ topic: string; payload: unknown }> = []
    hub = await createMockHub({
      plugins: [plugin],
      services: mqttStubs(published),
      storage: legacy,
    })
    expect(await device(hub, 'devices.living_room.ceiling')).toEqual(lamp)
    expect(await legacy.count('zigbee2mqtt')).toBe(0)
    await hub.call('zigbee2mqtt.turn_on', { device: 'living_room/ceiling', brightness: 10 })
    expect(published).toHaveLength(1)
    await hub.stop()
    hub = undefined
    await legacy.close()
  })

  it('follows a custom base topic', async () => {
    const h = await boot({ config: { baseTopic: 'home/z2m 1' } })
    expect((await h.expectCall('mqtt.subscribe')).params).toMatchObject({ filter: 'home/z2m 1/#' })
    await replayAll(h, 'home/z2m 1')
    expect((await device(h, 'devices.front_door'))?.state.contact).toBe(true)
    // Messages of the default base are not ours.
    await deliver(h, 'zigbee2mqtt/front_door', { contact: false })
    expect((await device(h, 'devices.front_door'))?.state.contact).toBe(true)
  })

  it('refuses a base topic holding MQTT wildcards at boot', async () => {
    const error = await createMockHub({
      plugins: [plugin],
      services: mqttStubs(),
      config: { zigbee2mqtt: { baseTopic: 'z/#' } },
    }).catch((e: unknown) => e)
    expect((error as Error).message).toMatch(/baseTopic/)
  })

  it('fails to start with a clear message when no MQTT bridge serves mqtt.subscribe', async () => {
    const error = await createMockHub({ plugins: [plugin] }).catch((e: unknown) => e)
    expect((error as Error).message).toMatch(/needs the MQTT bridge/)
  })
})
