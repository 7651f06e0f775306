import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { type CloudEvent, type MqttMessageData, silentLogger, topicToWords } from '@core/contracts'
import { IN_CI, probeTcp } from '@core/contracts/testing'
import { createKernel, type InlinePlugin, type Kernel } from '@core/kernel'
import { createMqttBridge, type MqttBridge } from '@core/mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import zigbee2mqtt, {
  type StateChangedEvent,
  type ZigbeeDevice,
} from '../plugins/zigbee2mqtt/src/index.js'

const BROKER_URL = process.env.CORE_MQTT_URL ?? 'mqtt://127.0.0.1:1883'
const brokerUp = (await probeTcp(BROKER_URL, 1_000)) === undefined
if (!brokerUp && !IN_CI) {
  console.warn(
    `Mosquitto is not reachable at ${BROKER_URL}: skipping the zigbee2mqtt broker test; start it with: mosquitto -d -c /etc/mosquitto/mosquitto.conf`,
  )
}

interface Recorded {
  topic: string
  payload: unknown
  retain?: boolean
}
const recording = JSON.parse(
  await readFile(new URL('../../../tools/z2m-replay/recording.json', import.meta.url), 'utf8'),
) as { messages: Recorded[]; scenarios: Record<string, Recorded[]> }
const manifest = JSON.parse(
  await readFile(new URL('../plugins/zigbee2mqtt/package.json', import.meta.url), 'utf8'),
).corePlugin as InlinePlugin['manifest']

describe.skipIf(!brokerUp && !IN_CI)(
  'zigbee2mqtt through the real MQTT bridge and Mosquitto',
  () => {
    const base = `z2m-${randomBytes(5).toString('hex')}`
    let kernel: Kernel
    let bridge: MqttBridge

    beforeAll(async () => {
      if (!brokerUp)
        throw new Error(`Mosquitto is not reachable at ${BROKER_URL} (CI=true requires it)`)
      kernel = createKernel({
        logger: silentLogger,
        plugins: [{ manifest, plugin: zigbee2mqtt }],
        config: { zigbee2mqtt: { baseTopic: base } },
        required: ['zigbee2mqtt'],
      })
      // The bridge's services exist before the plugins start; it connects afterwards, and sends
      // the plugin's filter with its first SUBSCRIBE.
      bridge = createMqttBridge(kernel, {
        url: BROKER_URL,
        prefix: `${base}-core`,
        logger: silentLogger,
      })
      await kernel.start()
      await bridge.start()
    })

    afterAll(async () => {
      if (bridge === undefined) return
      for (const m of recording.messages.filter((x) => x.retain)) {
        await kernel.services
          .call('mqtt.publish', { topic: `${base}/${m.topic}`, payload: '', retain: true, qos: 1 })
          .catch(() => undefined)
      }
      await kernel.stop()
      await bridge.stop()
    })

    it('mirrors the replayed installation into state and sends turn_on as the documented /set payload', async () => {
      for (const m of recording.messages) {
        await kernel.services.call('mqtt.publish', {
          topic: `${base}/${m.topic}`,
          payload: m.payload,
          retain: m.retain === true,
          qos: 1,
        })
      }
      const get = async (key: string) =>
        (await kernel.state.get<ZigbeeDevice>('zigbee2mqtt', key))?.value
      await expect
        .poll(async () => (await get('devices.bathroom.climate'))?.state.temperature, {
          timeout: 5_000,
        })
        .toBe(21.34)
      expect(await get('devices.living_room.ceiling')).toMatchObject({
        kind: 'light',
        availability: 'online',
        state: { state: 'OFF', brightness: 180 },
      })
      expect((await get('devices.coffee%20machine'))?.state.state).toBe('ON')

      // The plugin holds <base>/#, so its own /set comes back through the broker as an event.
      const sets: CloudEvent<MqttMessageData>[] = []
      kernel.bus.subscribe<MqttMessageData>(
        `mqtt.message.${topicToWords(base)}.living_room.ceiling.set`,
        (e) => {
          sets.push(e)
        },
      )
      await kernel.services.call('zigbee2mqtt.turn_on', {
        device: 'living_room/ceiling',
        brightness: 200,
      })
      await expect.poll(() => sets.length, { timeout: 5_000 }).toBe(1)
      expect(sets[0]?.data).toMatchObject({
        topic: `${base}/living_room/ceiling/set`,
        payload: { state: 'ON', brightness: 200 },
        qos: 1,
      })

      const opened: CloudEvent<StateChangedEvent>[] = []
      kernel.bus.subscribe<StateChangedEvent>(
        'zigbee2mqtt.device.front_door.state-changed',
        (e) => {
          opened.push(e)
        },
      )
      for (const m of recording.scenarios['contact-open'] ?? []) {
        await kernel.services.call('mqtt.publish', {
          topic: `${base}/${m.topic}`,
          payload: m.payload,
        })
      }
      await expect.poll(() => opened.length, { timeout: 5_000 }).toBe(1)
      expect(opened[0]?.data.changed.contact).toBe(false)
    })

    it('learns the devices again from the retained bridge/devices after a reload', async () => {
      await kernel.plugins.reload('zigbee2mqtt')
      await expect
        .poll(async () => (await kernel.state.list('zigbee2mqtt', { prefix: 'devices' })).length, {
          timeout: 5_000,
        })
        .toBe(4)
      const list = await kernel.services.call<ZigbeeDevice[]>('zigbee2mqtt.list', {})
      expect(list.map((d) => d.friendly_name)).toEqual([
        'bathroom/climate',
        'coffee machine',
        'front_door',
        'living_room/ceiling',
      ])
    })
  },
)
