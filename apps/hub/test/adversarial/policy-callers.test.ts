// Adversarial suite, policy part: a call the token's scopes allow but the operator policy refuses
// is refused over HTTP and over MQTT, with the core.security.denied event and the counter.
import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type CloudEvent, silentLogger } from '@core/contracts'
import { probeServer } from '@core/contracts/testing'
import mqtt from 'mqtt'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { loadHubConfig } from '../../src/config.js'
import { type RunningHub, startHub } from '../../src/hub.js'
import { writeHubConfig } from '../helpers.js'

const MQTT_URL = process.env.CORE_TEST_MQTT_URL ?? 'mqtt://127.0.0.1:1883'
const broker = await probeServer({
  name: 'Mosquitto',
  url: MQTT_URL,
  hint: 'start it with: mosquitto -p 1883',
  tag: 'hub',
})

const POLICY = `# the operator policy of this test hub
version: 1
rules:
  - { effect: allow, subject: "plugin:*", action: "*", resource: "#" }
  - { effect: allow, subject: "token:*", action: "*", resource: "#" }
  - effect: deny
    subject: "token:*"
    action: services.call
    resource: vault.open
    description: nobody opens the vault from outside
`

const VAULT = `export default {
  setup(ctx) {
    ctx.services.register('vault.open', () => 'opened', { params: {} })
    ctx.services.register('vault.status', () => 'pong', { params: {} })
  },
}
`

broker.describe('the operator policy on HTTP and MQTT callers', () => {
  let dir: string
  let hub: RunningHub
  const adminToken = randomBytes(32).toString('hex')
  const prefix = `adv-${randomBytes(4).toString('hex')}`
  const denied: CloudEvent[] = []

  const post = async (service: string) => {
    const res = await fetch(`${hub.address.url}/api/v1/services/${service}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: '{}',
    })
    return { status: res.status, type: res.headers.get('content-type'), body: await res.json() }
  }
  const counter = async (): Promise<number> => {
    const text = await (await fetch(`${hub.address.url}/metrics`)).text()
    const line = text
      .split('\n')
      .find((l) => l.startsWith('core_security_denials_total{kind="token",action="services.call"}'))
    return line === undefined ? 0 : Number(line.split(' ').at(-1))
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hub-policy-'))
    const folder = join(dir, 'plugins', 'vault')
    await mkdir(folder, { recursive: true })
    await writeFile(join(folder, 'index.js'), VAULT)
    await writeFile(
      join(folder, 'package.json'),
      JSON.stringify({
        name: 'vault',
        version: '1.0.0',
        type: 'module',
        corePlugin: { name: 'vault', entry: './index.js', coreApi: '^1.0.0' },
      }),
    )
    await writeFile(join(dir, 'policy.yaml'), POLICY)
    const file = await writeHubConfig(dir, {
      pluginDirs: ['./plugins'],
      dataDir: './data',
      http: { port: 0 },
      mqtt: { url: MQTT_URL, prefix, calls: true, startWaitMs: 5_000 },
      policy: './policy.yaml',
    })
    const config = await loadHubConfig({
      argv: ['--config', file],
      env: { CORE_ADMIN_TOKEN: adminToken },
    })
    hub = await startHub(config, { logger: silentLogger })
    hub.kernel.bus.subscribe('core.security.denied', (event) => {
      denied.push(event)
    })
  }, 60_000)

  afterAll(async () => {
    await hub?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('refuses an HTTP call the admin token may make but the policy denies: 403 problem+json naming the rule', async () => {
    expect(await post('vault.status')).toMatchObject({ status: 200, body: 'pong' })
    const before = await counter()
    const refused = await post('vault.open')
    expect(refused.status).toBe(403)
    expect(refused.type).toContain('application/problem+json')
    expect(refused.body).toMatchObject({ code: 'E_FORBIDDEN' })
    expect(JSON.stringify(refused.body)).toContain('rule 2 (deny token:* services.call vault.open)')
    await expect
      .poll(() => denied.map((e) => e.data))
      .toContainEqual(
        expect.objectContaining({
          subject: 'token:admin-token',
          action: 'services.call',
          resource: 'vault.open',
          rule: 2,
        }),
      )
    expect(await counter()).toBe(before + 1)
  })

  it('refuses the same call over MQTT with an E_FORBIDDEN reply, the event and the counter', async () => {
    const client = await mqtt.connectAsync(MQTT_URL, { protocolVersion: 4, clean: true })
    try {
      const replyTo = `${prefix}/reply/${randomBytes(4).toString('hex')}`
      const replies: Array<Record<string, unknown>> = []
      client.on('message', (_topic, payload) => {
        replies.push(JSON.parse(payload.toString()) as Record<string, unknown>)
      })
      await client.subscribeAsync(replyTo, { qos: 1 })
      const before = await counter()
      const seen = denied.length
      const send = (service: string, correlationId: string) =>
        client.publishAsync(
          `${prefix}/call/${service}`,
          JSON.stringify({
            params: {},
            replyTo,
            correlationId,
            authorization: `Bearer ${adminToken}`,
          }),
          { qos: 1 },
        )
      await send('vault.status', 'ok')
      await send('vault.open', 'no')
      await expect.poll(() => replies.length, { timeout: 15_000 }).toBe(2)
      expect(replies.find((r) => r.correlationId === 'ok')).toMatchObject({ result: 'pong' })
      const refused = replies.find((r) => r.correlationId === 'no')
      expect(refused).toMatchObject({ error: { code: 'E_FORBIDDEN' } })
      expect(JSON.stringify(refused)).toContain('rule 2')
      await expect.poll(() => denied.length).toBeGreaterThan(seen)
      expect(denied.at(-1)?.data).toMatchObject({
        subject: 'token:admin-token',
        resource: 'vault.open',
        rule: 2,
      })
      expect(await counter()).toBe(before + 1)
    } finally {
      await client.endAsync()
    }
  })
})
