import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { silentLogger } from '@core/contracts'
import { IN_CI, probeTcp } from '@core/contracts/testing'
import {
  createKernel,
  type InlinePlugin,
  PERSISTED_STATE_STORAGE_NAMESPACE,
  persistedStateKey,
} from '@core/kernel'
import { createMqttBridge } from '@core/mqtt'
import { createMemoryAdapter, createStorage } from '@core/storage'
import mqtt, { type MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import zigbee2mqtt, {
  type BridgeInfo,
  type ZigbeeDevice,
} from '../../plugins/zigbee2mqtt/src/index.js'

// Issue 8 §1, the proof: about 1.3 MB of Zigbee2MQTT messages that each add 1,000 new attribute
// names, sent by a broker client, stalled the hub for ~50 s (health at 10 s), grew RSS from 124
// to 564 MB and left memory and storage disagreeing. Through the real bridge and Mosquitto, the
// hub must now keep answering while the flood is refused, and state and storage must agree.

const BROKER_URL = process.env.CORE_MQTT_URL ?? 'mqtt://127.0.0.1:1883'
const brokerUp = (await probeTcp(BROKER_URL, 1_000)) === undefined
if (!brokerUp && !IN_CI) {
  console.warn(
    `Mosquitto is not reachable at ${BROKER_URL}: skipping the device flood test; start it with: mosquitto -d -c /etc/mosquitto/mosquitto.conf`,
  )
}

const recording = JSON.parse(
  await readFile(new URL('../../../../tools/z2m-replay/recording.json', import.meta.url), 'utf8'),
) as { messages: Array<{ topic: string; payload: unknown }> }
const DEVICES = recording.messages.find((m) => m.topic === 'bridge/devices')?.payload as Array<{
  friendly_name: string
  ieee_address: string
}>
const manifest = JSON.parse(
  await readFile(new URL('../../plugins/zigbee2mqtt/package.json', import.meta.url), 'utf8'),
).corePlugin as InlinePlugin['manifest']

/** Probe latencies above this fail the test (the issue measured 10 s). */
const ANSWER_WITHIN_MS = 100
const FLOOD_MESSAGES = 60

describe.skipIf(!brokerUp && !IN_CI)('issue 8: a device-data flood through Mosquitto', () => {
  const base = `z2m-flood-${randomBytes(4).toString('hex')}`
  const storage = createStorage(createMemoryAdapter())
  const kernel = createKernel({
    logger: silentLogger,
    storage,
    plugins: [{ manifest, plugin: zigbee2mqtt }],
    config: { zigbee2mqtt: { baseTopic: base, qos: 1 } },
    required: ['zigbee2mqtt'],
  })
  const bridge = createMqttBridge(kernel, {
    url: BROKER_URL,
    prefix: `${base}-core`,
    logger: silentLogger,
    state: false,
  })
  let attacker: MqttClient

  beforeAll(async () => {
    if (!brokerUp) throw new Error(`Mosquitto is not reachable at ${BROKER_URL} (CI=true)`)
    await kernel.start()
    await bridge.start()
    attacker = await mqtt.connectAsync(BROKER_URL, { protocolVersion: 5, reconnectPeriod: 0 })
  })
  afterAll(async () => {
    await attacker?.endAsync(true)
    await bridge.stop()
    await kernel.stop()
    await storage.close?.()
  })

  const frontDoor = async (): Promise<{ state?: ZigbeeDevice; stored?: ZigbeeDevice }> => ({
    state: (await kernel.state.get<ZigbeeDevice>('zigbee2mqtt', 'devices.front_door'))?.value,
    stored: (
      (await storage.get(
        PERSISTED_STATE_STORAGE_NAMESPACE,
        persistedStateKey('zigbee2mqtt', 'devices.front_door'),
      )) as { value: ZigbeeDevice } | undefined
    )?.value,
  })

  it('keeps answering under 100 ms, refuses the flood, and keeps state and storage equal', async () => {
    await attacker.publishAsync(`${base}/bridge/devices`, JSON.stringify(DEVICES), { qos: 1 })
    await attacker.publishAsync(`${base}/front_door`, '{"contact":true,"battery":97}', { qos: 1 })
    await expect.poll(async () => (await frontDoor()).state?.state.battery).toBe(97)

    // The attacker shares this process: build its messages before the clock starts.
    const texts = Array.from({ length: FLOOD_MESSAGES }, (_, round) => {
      const attributes: Record<string, number> = {}
      for (let i = 0; i < 1_000; i++) attributes[`attribute_${round}_${i}`] = i
      return JSON.stringify(attributes)
    })
    const sentBytes = texts.reduce((sum, text) => sum + text.length, 0)
    const probe = async (): Promise<number> => {
      const started = performance.now()
      await kernel.services.call('zigbee2mqtt.list', {})
      await kernel.health()
      return performance.now() - started
    }
    await probe() // warm

    // Probes: a service call and health, timed one after the other while the flood runs.
    const latencies: number[] = []
    let flooding = true
    const probing = (async () => {
      while (flooding) {
        latencies.push(await probe())
        await new Promise((resolve) => setTimeout(resolve, 5))
      }
    })()

    await Promise.all(
      texts.map((text) => attacker.publishAsync(`${base}/front_door`, text, { qos: 1 })),
    )
    // A real update after the flood: once it shows, every flood message was handled before it.
    await attacker.publishAsync(`${base}/front_door`, '{"contact":false}', { qos: 1 })
    await expect
      .poll(async () => (await frontDoor()).state?.state.contact, { timeout: 30_000 })
      .toBe(false)
    flooding = false
    await probing

    expect(sentBytes).toBeGreaterThan(1_300_000)
    expect(latencies.length).toBeGreaterThan(0)
    expect(Math.max(...latencies)).toBeLessThan(ANSWER_WITHIN_MS)
    const { state, stored } = await frontDoor()
    expect(state?.state).toEqual({ contact: false, battery: 97 })
    expect(stored).toEqual(state)
    const bridgeInfo = (await kernel.state.get<BridgeInfo>('zigbee2mqtt', 'bridge'))?.value
    expect(bridgeInfo).toMatchObject({ refused: FLOOD_MESSAGES, persistFailures: 0 })
    expect(bridge.stats().inFlight).toBe(0)
  }, 60_000)
})
