import { readFile } from 'node:fs/promises'
import { topicToWords } from '@core/contracts'
import { PERSISTED_STATE_STORAGE_NAMESPACE, persistedStateKey } from '@core/kernel'
import { createMemoryAdapter, createStorage, type Storage } from '@core/storage'
import { createMockHub, type MockHub } from '@core/testing'
import { afterEach, describe, expect, it } from 'vitest'
import zigbee2mqtt, { type BridgeInfo, type ZigbeeDevice } from '../../src/index.js'

// Issue 8 §1: Zigbee2MQTT messages that each added 1,000 new attribute names grew one device
// without bound (RSS 124 → 564 MB, the hub stalled), and writes over storage's value limit
// failed silently, leaving memory and storage disagreeing. Devices, attributes and bytes are
// now capped (refused and counted), and a failed storage write refuses the change, visibly.

const plugin = { packageDir: new URL('../..', import.meta.url), plugin: zigbee2mqtt }
const recording = JSON.parse(
  await readFile(
    new URL('../../../../../../tools/z2m-replay/recording.json', import.meta.url),
    'utf8',
  ),
) as { messages: Array<{ topic: string; payload: unknown; retain?: boolean }> }
const DEVICES = recording.messages.find((m) => m.topic === 'bridge/devices')?.payload as Array<
  Record<string, unknown>
>
const FRONT_DOOR = DEVICES.find((d) => d.friendly_name === 'front_door') as {
  ieee_address: string
}

let hub: MockHub | undefined
let storage: Storage | undefined
afterEach(async () => {
  await hub?.stop()
  await storage?.close?.()
  hub = undefined
  storage = undefined
})

async function boot(
  config: Record<string, unknown> = {},
  maxValueBytes?: number,
): Promise<MockHub> {
  storage = createStorage(
    createMemoryAdapter(),
    maxValueBytes === undefined ? {} : { maxValueBytes },
  )
  hub = await createMockHub({
    plugins: [plugin],
    storage,
    config: { zigbee2mqtt: config },
    services: {
      'mqtt.subscribe': () => ({ pattern: 'mqtt.message.zigbee2mqtt.#' }),
      'mqtt.unsubscribe': () => ({ released: true }),
      'mqtt.publish': () => undefined,
    },
  })
  return hub
}

async function deliver(h: MockHub, topic: string, payload: unknown): Promise<void> {
  await h.publish(`mqtt.message.${topicToWords(topic)}`, { topic, payload, retain: false, qos: 0 })
  await h.settle()
}

async function learnDevices(h: MockHub): Promise<void> {
  await deliver(h, 'zigbee2mqtt/bridge/devices', DEVICES)
}

const bridgeInfo = async (h: MockHub): Promise<BridgeInfo | undefined> =>
  (await h.state.get<BridgeInfo>('zigbee2mqtt', 'bridge'))?.value

/** The front door as state and as storage hold it: they must agree. */
async function frontDoor(h: MockHub): Promise<{ state: ZigbeeDevice; stored: ZigbeeDevice }> {
  const state = (await h.state.get<ZigbeeDevice>('zigbee2mqtt', 'devices.front_door'))?.value
  const doc = (await storage?.get(
    PERSISTED_STATE_STORAGE_NAMESPACE,
    persistedStateKey('zigbee2mqtt', 'devices.front_door'),
  )) as { value: ZigbeeDevice } | undefined
  const stored = doc?.value
  if (state === undefined || stored === undefined) throw new Error('front_door not known')
  return { state, stored }
}

/** One message of the flood: 1,000 attribute names never seen before. */
function floodMessage(round: number): Record<string, number> {
  const out: Record<string, number> = {}
  for (let i = 0; i < 1_000; i++) out[`attr_${round}_${i}`] = i
  return out
}

describe('issue 8: Zigbee2MQTT device data is bounded', () => {
  it('refuses state messages that would pass maxAttributes, and counts them', async () => {
    const h = await boot({ maxAttributes: 50 })
    await learnDevices(h)
    await deliver(h, 'zigbee2mqtt/front_door', { contact: true, battery: 90 })
    for (let round = 0; round < 20; round++) {
      await deliver(h, 'zigbee2mqtt/front_door', floodMessage(round))
    }
    const { state, stored } = await frontDoor(h)
    expect(state.state).toEqual({ contact: true, battery: 90 })
    expect(stored).toEqual(state)
    expect(await bridgeInfo(h)).toMatchObject({ refused: 20, persistFailures: 0 })
    // Real updates still go through.
    await deliver(h, 'zigbee2mqtt/front_door', { contact: false })
    expect((await frontDoor(h)).state.state.contact).toBe(false)
    // 20 refusals, at most 10 warning lines (then one summary).
    const refusals = h.logs('warn').filter((l) => /refused/.test(l.msg ?? ''))
    expect(refusals.length).toBeLessThanOrEqual(10)
  })

  it('refuses state messages that would pass maxDeviceBytes', async () => {
    const h = await boot({ maxDeviceBytes: 4_096 })
    await learnDevices(h)
    await deliver(h, 'zigbee2mqtt/front_door', { contact: true })
    await deliver(h, 'zigbee2mqtt/front_door', { note: 'x'.repeat(5_000) })
    const { state, stored } = await frontDoor(h)
    expect(state.state).toEqual({ contact: true })
    expect(stored).toEqual(state)
    expect((await bridgeInfo(h))?.refused).toBe(1)
  })

  it('takes at most maxDevices devices from one bridge/devices listing and counts the rest', async () => {
    const h = await boot({ maxDevices: 2 })
    await learnDevices(h)
    const devices = (await h.state.list('zigbee2mqtt')).filter((e) => e.key.startsWith('devices.'))
    const listed = DEVICES.filter((d) => d.type !== 'Coordinator').length
    expect(devices).toHaveLength(2)
    expect(await bridgeInfo(h)).toMatchObject({ devices: 2, refused: listed - 2 })
  })

  it('refuses a change storage will not keep, keeps state equal to storage, and says so', async () => {
    // Storage keeps at most 2 KiB per value; the plugin's own byte cap is higher.
    const h = await boot({}, 2_048)
    await learnDevices(h)
    await deliver(h, 'zigbee2mqtt/front_door', { contact: true })
    const before = await frontDoor(h)
    const failures = (await bridgeInfo(h))?.persistFailures ?? 0
    await deliver(h, 'zigbee2mqtt/front_door', { contact: false, note: 'y'.repeat(3_000) })

    const after = await frontDoor(h)
    expect(after.state).toEqual(before.state)
    expect(after.stored).toEqual(after.state)
    const info = await bridgeInfo(h)
    expect(info?.persistFailures).toBe(failures + 1)
    expect(info?.lastPersistError).toMatch(new RegExp(FRONT_DOOR.ieee_address))
    await h.expectEvent('zigbee2mqtt.bridge.persist-failed')
    expect(h.logs('error').some((l) => /storing device/.test(l.msg ?? ''))).toBe(true)
    // No state-changed event for the refused change.
    expect(h.events('zigbee2mqtt.device.front_door.state-changed')).toHaveLength(1)
  })
})
