import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { IN_CI, probeTcp } from '@core/contracts/testing'
import { connect } from 'mqtt'
import { beforeAll, describe, expect, it } from 'vitest'
import { loadRecording, replay, select } from '../src/replay.js'

const BROKER_URL = process.env.CORE_MQTT_URL ?? 'mqtt://127.0.0.1:1883'
const brokerUp = (await probeTcp(BROKER_URL, 1_000)) === undefined
if (!brokerUp && !IN_CI) {
  console.warn(
    `Mosquitto is not reachable at ${BROKER_URL}: skipping the broker tests; start it with: mosquitto -d -c /etc/mosquitto/mosquitto.conf`,
  )
}

const toolDir = fileURLToPath(new URL('..', import.meta.url))
const run = (args: string[]) =>
  promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], {
    cwd: toolDir,
    timeout: 20_000,
  }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code?: number; stdout?: string; stderr?: string }) => ({
      code: error.code ?? -1,
      stdout: error.stdout ?? '',
      stderr: error.stderr ?? '',
    }),
  )

describe('the recording', () => {
  it('holds a coordinator, a light, a plug, a contact sensor and a temperature sensor in bridge/devices', async () => {
    const recording = await loadRecording()
    const devices = recording.messages.find((m) => m.topic === 'bridge/devices')
    expect(devices?.retain).toBe(true)
    const list = devices?.payload as Array<{
      friendly_name: string
      type: string
      definition: {
        model: string
        exposes: Array<{ type: string; features?: { name: string }[]; name?: string }>
      } | null
    }>
    expect(list.map((d) => [d.friendly_name, d.type, d.definition?.model ?? null])).toEqual([
      ['Coordinator', 'Coordinator', null],
      ['living_room/ceiling', 'Router', 'LED1545G12'],
      ['coffee machine', 'Router', 'E1603/E1702/E1706'],
      ['front_door', 'EndDevice', 'MCCGQ11LM'],
      ['bathroom/climate', 'EndDevice', 'WSDCGQ11LM'],
    ])
    const light = list[1]?.definition?.exposes.find((e) => e.type === 'light')
    expect(light?.features?.map((f) => f.name)).toEqual(
      expect.arrayContaining(['state', 'brightness', 'color_temp']),
    )
    expect(list[2]?.definition?.exposes.some((e) => e.type === 'switch')).toBe(true)
    expect(list[3]?.definition?.exposes.some((e) => e.name === 'contact')).toBe(true)
    expect(list[4]?.definition?.exposes.map((e) => e.name)).toEqual(
      expect.arrayContaining(['temperature', 'humidity', 'battery']),
    )
  })

  it('selects messages under a base topic, scenarios on demand, and clears only retained ones', async () => {
    const recording = await loadRecording()
    const all = select(recording, 'all', 'home/z2m')
    expect(all).toHaveLength(recording.messages.length)
    expect(all.every((m) => m.topic.startsWith('home/z2m/'))).toBe(true)
    expect(all.find((m) => m.topic === 'home/z2m/bathroom/climate/availability')?.payload).toBe(
      'online',
    )
    const open = select(recording, 'contact-open')
    expect(open).toHaveLength(1)
    expect(open[0]?.topic).toBe('zigbee2mqtt/front_door')
    expect(JSON.parse(open[0]?.payload ?? '')).toMatchObject({ contact: false })
    const clear = select(recording, 'clear')
    expect(clear.every((m) => m.retain && m.payload === '')).toBe(true)
    expect(clear.map((m) => m.topic)).toContain('zigbee2mqtt/bridge/devices')
    expect(clear.map((m) => m.topic)).not.toContain('zigbee2mqtt/front_door')
    expect(() => select(recording, 'nope')).toThrow(/contact-open/)
  })

  it('exits 2 with the usage on a bad option and lists the scenarios', async () => {
    const bad = await run(['--bogus'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/Usage: z2m-replay/)
    const list = await run(['--', '--list'])
    expect(list.code).toBe(0)
    expect(list.stdout.split('\n')).toEqual(expect.arrayContaining(['contact-open', 'clear']))
  })

  it('exits 1 with a hint when the broker cannot be reached', async () => {
    const down = await run(['--url', 'mqtt://127.0.0.1:1'])
    expect(down.code).toBe(1)
    expect(down.stderr).toMatch(/Cannot connect to the MQTT broker at mqtt:\/\/127\.0\.0\.1:1/)
  })
})

describe.skipIf(!brokerUp && !IN_CI)('replaying to the real broker', () => {
  beforeAll(() => {
    if (!brokerUp)
      throw new Error(`Mosquitto is not reachable at ${BROKER_URL} (CI=true requires it)`)
  })

  it('publishes the installation (retained where Zigbee2MQTT retains) and a contact opening on demand', async () => {
    const base = `z2m-${randomBytes(5).toString('hex')}`
    try {
      expect(await replay({ url: BROKER_URL, baseTopic: base })).toBe(11)
      const cli = await run([
        '--url',
        BROKER_URL,
        '--base-topic',
        base,
        '--open-contact',
        '--quiet',
      ])
      expect(cli.code).toBe(0)
      const client = connect(BROKER_URL, { protocolVersion: 4, reconnectPeriod: 0 })
      await new Promise((resolve) => client.once('connect', resolve))
      const got = new Map<string, string>()
      client.on('message', (topic, payload) => got.set(topic, payload.toString()))
      await client.subscribeAsync(`${base}/#`)
      const end = Date.now() + 2_000
      while (got.size < 7 && Date.now() < end) await new Promise((r) => setTimeout(r, 20))
      await client.endAsync()
      // Retained: bridge state, info, devices and four availability messages; not the states.
      expect([...got.keys()].sort()).toEqual(
        [
          `${base}/bathroom/climate/availability`,
          `${base}/bridge/devices`,
          `${base}/bridge/info`,
          `${base}/bridge/state`,
          `${base}/coffee machine/availability`,
          `${base}/front_door/availability`,
          `${base}/living_room/ceiling/availability`,
        ].sort(),
      )
      expect(JSON.parse(got.get(`${base}/bridge/devices`) ?? '[]')).toHaveLength(5)
    } finally {
      await replay({ url: BROKER_URL, baseTopic: base, what: 'clear' })
    }
  })
})
