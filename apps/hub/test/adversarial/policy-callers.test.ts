// Adversarial suite, policy part: a call the token's scopes allow but the operator policy refuses
// is refused over HTTP and over MQTT, with the core.security.denied event and the counter; a
// signed MQTT call is weighed as its key's owner, so each device key gets its own services.
import { randomBytes, randomUUID } from 'node:crypto'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type CloudEvent, silentLogger } from '@core/contracts'
import { probeServer } from '@core/contracts/testing'
import { createSigner } from '@core/signing'
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
  # Signed MQTT calls are weighed as the key's owner: the thermostat key may read the status only;
  # the doorbell key has no rule, so it may call nothing (default deny).
  - { effect: allow, subject: "user:thermostats", action: services.call, resource: vault.status }
`

/** Device keys of the signed MQTT calls (HMAC, one owner each). */
const THERMOSTAT = {
  id: 'thermo',
  alg: 'hmac-sha256',
  secret: randomBytes(32).toString('hex'),
  owner: 'thermostats',
} as const
const DOORBELL = {
  id: 'bell',
  alg: 'hmac-sha256',
  secret: randomBytes(32).toString('hex'),
  owner: 'doorbells',
} as const
const signerOf = (k: typeof THERMOSTAT | typeof DOORBELL) =>
  createSigner({
    keys: [{ id: k.id, algorithm: 'hmac-sha256', secret: k.secret, owner: k.owner }],
    keyId: k.id,
  })

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
      signing: { keys: [THERMOSTAT, DOORBELL] },
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

  it('weighs a signed MQTT call as its key owner: each device key reaches only what the policy gives it', async () => {
    const client = await mqtt.connectAsync(MQTT_URL, { protocolVersion: 4, clean: true })
    try {
      const replyTo = `${prefix}/reply/${randomBytes(4).toString('hex')}`
      const replies: Array<Record<string, unknown>> = []
      client.on('message', (_topic, payload) => {
        replies.push(JSON.parse(payload.toString()) as Record<string, unknown>)
      })
      await client.subscribeAsync(replyTo, { qos: 1 })
      const seen = denied.length
      const send = (
        key: typeof THERMOSTAT | typeof DOORBELL,
        service: string,
        correlationId: string,
      ) =>
        client.publishAsync(
          `${prefix}/call/${service}`,
          JSON.stringify(
            signerOf(key).sign({
              specversion: '1.0',
              id: randomUUID(),
              source: `/devices/${key.id}`,
              type: 'core.mqtt.call',
              subject: service,
              time: new Date().toISOString(),
              data: { params: {}, replyTo, correlationId },
            }),
          ),
          { qos: 1 },
        )
      await send(THERMOSTAT, 'vault.status', 'thermo-status')
      await send(THERMOSTAT, 'vault.open', 'thermo-open')
      await send(DOORBELL, 'vault.status', 'bell-status')
      await expect.poll(() => replies.length, { timeout: 15_000 }).toBe(3)
      const reply = (id: string) => replies.find((r) => r.correlationId === id)
      expect(reply('thermo-status')).toMatchObject({ result: 'pong' })
      // The token:* deny rule is not the thermostat's: default deny refuses it (no rule).
      expect(reply('thermo-open')).toMatchObject({ error: { code: 'E_FORBIDDEN' } })
      expect(reply('bell-status')).toMatchObject({ error: { code: 'E_FORBIDDEN' } })
      await expect.poll(() => denied.length).toBe(seen + 2)
      expect(denied.slice(seen).map((e) => e.data)).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ subject: 'user:thermostats', resource: 'vault.open' }),
          expect.objectContaining({ subject: 'user:doorbells', resource: 'vault.status' }),
        ]),
      )
    } finally {
      await client.endAsync()
    }
  })
})
