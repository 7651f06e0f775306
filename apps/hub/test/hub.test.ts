import { spawn, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CoreError, silentLogger } from '@core/contracts'
import type { PluginInfo } from '@core/kernel'
import postgres from 'postgres'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { loadHubConfig } from '../src/config.js'
import { startHub } from '../src/hub.js'
import { describeStorage } from '../src/storage-select.js'
import { formatStartup, formatStop } from '../src/summary.js'
import { closedPort, stagePlugins, writeHubConfig } from './helpers.js'

let dir: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hub-'))
  await stagePlugins(dir)
})
afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

/** A config on the staged plugins, HTTP on a free port, MQTT on a port nothing listens on. */
const load = async (extra: Record<string, unknown> = {}, env: Record<string, string> = {}) => {
  const file = await writeHubConfig(dir, {
    pluginDirs: ['./plugins'],
    dataDir: './data',
    http: { port: 0 },
    mqtt: { url: `mqtt://127.0.0.1:${await closedPort()}`, startWaitMs: 100 },
    ...extra,
  })
  return loadHubConfig({ argv: ['--config', file], env })
}

describe('startHub', () => {
  it('boots the example plugins on SQLite and prints what started', async () => {
    const config = await load()
    const hub = await startHub(config, { logger: silentLogger })
    expect(hub.report.started.sort()).toEqual(['automation', 'devices', 'hello', 'zigbee2mqtt'])
    expect(hub.storage.adapterName).toBe('sqlite')
    const text = formatStartup(
      config,
      hub.report,
      await hub.kernel.plugins.list(),
      hub.kernel.services.list(),
      'healthy',
    )
    expect(text).toContain(`storage: sqlite ${join(dir, 'data', 'hub.db')}`)
    expect(text).toMatch(/^PLUGIN\s+VERSION\s+STATE\s+SERVICES$/m)
    expect(text).toMatch(/^hello\s+0\.1\.0\s+started\s+greet$/m)
    expect(text).toMatch(
      /^devices\s+0\.1\.0\s+started\s+add, get, list, remove, rename, set-state$/m,
    )
    expect(text).toContain('4 started, 0 failed, 0 skipped')
    const stop = await hub.stop()
    expect(stop.stopped.sort()).toEqual(['automation', 'devices', 'hello', 'zigbee2mqtt'])
    expect(formatStop(stop, 'SIGINT')).toMatch(/^Hub stopped \(SIGINT\): 4 plugin\(s\) stopped/)
    expect(await hub.stop()).toBe(stop)
  })

  it('keeps devices and rules in the SQLite file across restarts, and the rule still fires', async () => {
    const config = await load()
    const first = await startHub(config, { logger: silentLogger })
    await first.kernel.services.call('devices.add', {
      id: 'door',
      name: 'Door',
      state: { contact: true },
    })
    await first.kernel.services.call('devices.add', { id: 'lamp', name: 'Lamp' })
    await first.kernel.services.call('automation.add', {
      id: 'door-lamp',
      when: {
        event: 'devices.door.state-changed',
        conditions: [{ path: 'data.changed.contact', op: 'eq', value: false }],
      },
      action: { call: 'devices.set-state', params: { id: 'lamp', state: { on: true } } },
    })
    await first.stop()

    const second = await startHub(config, { logger: silentLogger })
    const fired = new Promise((resolve) =>
      second.kernel.bus.subscribe('automation.door-lamp.fired', resolve),
    )
    await second.kernel.services.call('devices.set-state', {
      id: 'door',
      state: { contact: false },
    })
    await fired
    expect((await second.kernel.state.get('devices', 'lamp'))?.value).toMatchObject({
      state: { on: true },
    })
    await second.stop()
  })

  it('marks isolated plugins with their level in the summary', async () => {
    const config = await load()
    const plugin = (name: string, isolation: PluginInfo['isolation']): PluginInfo => ({
      name,
      version: '1.0.0',
      path: `/plugins/${name}`,
      state: 'started',
      isolation,
      required: false,
      source: 'dir',
      requires: {},
      optionalRequires: {},
      dependents: [],
      reloads: 0,
      denials: 0,
      since: 0,
    })
    const report = { started: ['a', 'b', 'c'], failed: [], skipped: [], durationMs: 5 }
    const text = formatStartup(
      config,
      report,
      [plugin('a', 'inline'), plugin('b', 'worker'), plugin('c', 'process')],
      [{ name: 'b.run' }],
      'healthy',
    )
    expect(text).toMatch(/^a\s+1\.0\.0\s+started\s+-$/m)
    expect(text).toMatch(/^b\s+1\.0\.0\s+started \(worker\)\s+run$/m)
    expect(text).toMatch(/^c\s+1\.0\.0\s+started \(process\)\s+-$/m)
  })

  it('reports a failing optional plugin and keeps the others running', async () => {
    const config = await load({ config: { hello: { greeting: 42 } } })
    const hub = await startHub(config, { logger: silentLogger })
    expect(hub.report.failed.map((f) => f.name)).toEqual(['hello'])
    const text = formatStartup(
      config,
      hub.report,
      await hub.kernel.plugins.list(),
      hub.kernel.services.list(),
      'degraded',
    )
    expect(text).toMatch(/^hello\s+0\.1\.0\s+failed\s+-$/m)
    expect(text).toMatch(/^ {2}-> Plugin "hello" failed at setup: .*greeting/m)
    expect((await hub.kernel.health()).status).toBe('degraded')
    await hub.stop()
  })

  it('refuses to boot when a required plugin fails, naming it, and closes the storage', async () => {
    const config = await load({ required: ['hello'], config: { hello: { greeting: 42 } } })
    const error = await startHub(config, { logger: silentLogger }).catch((e: unknown) => e)
    expect(CoreError.is(error)).toBe(true)
    expect((error as Error).message).toMatch(/hello/)
  })

  it('describes PostgreSQL storage without its credentials', () => {
    expect(
      describeStorage({
        kind: 'postgres',
        url: 'postgres://u:secret@db:5432/hub?sslmode=require',
        schema: 'h1',
      }),
    ).toBe('postgres db:5432/hub (schema h1)')
  })
})

describe('startHub: HTTP, MQTT and the admin token', () => {
  const ADMIN = '9f3c71e0a2b84d56c1e7f09a3b5d28c46e1f7a90b3c5d2e8f4a61b07c9d3e25a'

  it('serves HTTP while the broker is down: health degraded with an mqtt component, the summary says why', async () => {
    const config = await load()
    const hub = await startHub(config, { logger: silentLogger })
    try {
      expect(hub.address.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
      expect(hub.mqtt.connectedAtBoot).toBe(false)
      expect(hub.mqtt.error).toMatch(/ECONNREFUSED|no connection within 100 ms/)
      const res = await fetch(`${hub.address.url}/health`)
      expect(res.status).toBe(200)
      const body = (await res.json()) as {
        status: string
        components: Record<string, { status: string; details?: Record<string, unknown> }>
      }
      expect(body.status).toBe('degraded')
      expect(body.components.mqtt).toMatchObject({
        status: 'degraded',
        details: { connected: false, prefix: 'core', url: config.mqtt.url },
      })
      expect(body.components.plugins?.status).toBe('healthy')
      const text = formatStartup(
        config,
        hub.report,
        await hub.kernel.plugins.list(),
        hub.kernel.services.list(),
        (await hub.health()).status,
        { address: hub.address, mqtt: hub.mqtt, bootstrapToken: hub.bootstrapToken },
      )
      expect(text).toContain(`http: ${hub.address.url} (auth on) · docs ${hub.address.url}/docs`)
      expect(text).toMatch(
        new RegExp(
          `^mqtt: ${config.mqtt.url.replace(/[./]/g, '\\$&')} NOT connected \\(.+\\), retrying in the background; health is degraded until it connects · prefix core · calls off$`,
          'm',
        ),
      )
      expect(text).toMatch(/^zigbee2mqtt\s+0\.1\.0\s+started/m)
      expect(text).toContain('health: degraded')
      // Plugins asking the bridge to publish hear that the broker is down, at once.
      const publish = await hub.kernel.services
        .call('mqtt.publish', { topic: 'x/y', payload: 1 })
        .catch((e: unknown) => e)
      expect(CoreError.is(publish, 'E_UNAVAILABLE')).toBe(true)
    } finally {
      await hub.stop()
    }
    // Stopped: the HTTP port is closed, the storage too.
    await expect(fetch(`${hub.address.url}/health`)).rejects.toThrow()
    await expect(hub.storage.get('core', 'x')).rejects.toThrow()
  })

  it('creates an admin token on the first boot only, prints it once, and stores only its hash', async () => {
    const config = await load()
    const first = await startHub(config, { logger: silentLogger })
    const token = first.bootstrapToken as string
    try {
      expect(token).toMatch(/^core_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/)
      const text = formatStartup(config, first.report, [], [], 'healthy', {
        address: first.address,
        mqtt: first.mqtt,
        bootstrapToken: token,
      })
      expect(text.split(token)).toHaveLength(2) // exactly once
      expect(text).toContain(`Admin token (shown once, store it): ${token}`)
      const auth = { authorization: `Bearer ${token}` }
      expect((await fetch(`${first.address.url}/api/v1/plugins`, { headers: auth })).status).toBe(
        200,
      )
      expect((await fetch(`${first.address.url}/api/v1/plugins`)).status).toBe(401)
      const stored = JSON.stringify(await first.storage.list('core-auth'))
      expect(stored).not.toContain(token)
      expect(stored).not.toContain(token.split('_')[2])
      expect(await first.http.tokens.list()).toEqual([
        expect.objectContaining({ name: 'admin (first boot)', scopes: ['admin'] }),
      ])
    } finally {
      await first.stop()
    }
    const second = await startHub(config, { logger: silentLogger })
    try {
      expect(second.bootstrapToken).toBeUndefined()
      const auth = { authorization: `Bearer ${token}` }
      expect((await fetch(`${second.address.url}/api/v1/plugins`, { headers: auth })).status).toBe(
        200,
      )
    } finally {
      await second.stop()
    }
  })

  it('accepts CORE_ADMIN_TOKEN instead of creating a token, and refuses a wrong one with 401', async () => {
    const config = await load({}, { CORE_ADMIN_TOKEN: ADMIN })
    const hub = await startHub(config, { logger: silentLogger })
    try {
      expect(hub.bootstrapToken).toBeUndefined()
      expect(await hub.http.tokens.list()).toEqual([])
      const call = (token: string) =>
        fetch(`${hub.address.url}/api/v1/services/hello.greet`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ name: 'e2e' }),
        })
      const ok = await call(ADMIN)
      expect(ok.status).toBe(200)
      expect(await ok.json()).toEqual({ message: 'Hello, e2e!' })
      const wrong = await call(`${ADMIN}x`)
      expect(wrong.status).toBe(401)
      expect(await wrong.json()).toMatchObject({ code: 'E_UNAUTHENTICATED' })
    } finally {
      await hub.stop()
    }
  })

  it('runs without auth on loopback, and without the bridge when mqtt.enabled is false', async () => {
    const config = await load({ mqtt: { enabled: false } }, { CORE_AUTH: 'off' })
    const hub = await startHub(config, { logger: silentLogger })
    try {
      expect(hub.bootstrapToken).toBeUndefined()
      expect(hub.mqtt.bridge).toBeUndefined()
      expect((await fetch(`${hub.address.url}/api/v1/plugins`)).status).toBe(200)
      expect((await hub.health()).components.mqtt).toBeUndefined()
      // zigbee2mqtt needs the bridge: it fails with a clear line, the others run.
      expect(hub.report.failed.map((f) => f.name)).toEqual(['zigbee2mqtt'])
      const text = formatStartup(
        config,
        hub.report,
        await hub.kernel.plugins.list(),
        [],
        'degraded',
        { address: hub.address, mqtt: hub.mqtt },
      )
      expect(text).toContain('(auth OFF (loopback only))')
      expect(text).toContain('mqtt: off (mqtt.enabled is false in the config)')
      expect(text).toMatch(/^ {2}-> .*zigbee2mqtt needs the MQTT bridge/m)
    } finally {
      await hub.stop()
    }
  })

  it('fails the boot with E_UNAVAILABLE when the HTTP port is taken, stopping what it started', async () => {
    const first = await startHub(await load(), { logger: silentLogger })
    try {
      const config = await load({ http: { port: first.address.port } })
      const error = await startHub(config, { logger: silentLogger }).catch((e: unknown) => e)
      expect(CoreError.is(error, 'E_UNAVAILABLE')).toBe(true)
    } finally {
      await first.stop()
    }
  })
})

const PG_URL = process.env.CORE_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const ci =
  process.env.CI !== undefined &&
  process.env.CI !== '' &&
  process.env.CI !== 'false' &&
  process.env.CI !== '0'
const pgDown = await (async () => {
  const sql = postgres(PG_URL, { max: 1, connect_timeout: 3, onnotice: () => {} })
  try {
    await sql`select 1`
    return undefined
  } catch (error) {
    return (error as Error).message
  } finally {
    await sql.end({ timeout: 0 })
  }
})()
if (pgDown !== undefined && !ci) {
  console.warn(
    `hub PostgreSQL test skipped: ${PG_URL.replace(/\/\/[^@/]*@/, '//')} is unreachable (${pgDown}); start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`,
  )
}

describe.skipIf(pgDown !== undefined && !ci)('startHub on PostgreSQL', () => {
  it('uses PostgreSQL when CORE_DATABASE_URL is set, and devices survive a restart', async () => {
    if (pgDown !== undefined)
      throw new Error(`PostgreSQL at ${PG_URL} is unreachable under CI=true: ${pgDown}`)
    const schema = `core_hub_test_${randomBytes(4).toString('hex')}`
    const config = await load({ databaseSchema: schema }, { CORE_DATABASE_URL: PG_URL })
    expect(config.storage.kind).toBe('postgres')
    try {
      const first = await startHub(config, { logger: silentLogger })
      expect(first.storage.adapterName).toBe('postgres')
      await first.kernel.services.call('devices.add', {
        id: 'lamp',
        name: 'Lamp',
        state: { on: true },
      })
      await first.stop()
      const second = await startHub(config, { logger: silentLogger })
      expect(await second.kernel.services.call('devices.get', { id: 'lamp' })).toMatchObject({
        state: { on: true },
      })
      await second.stop()
    } finally {
      const sql = postgres(PG_URL, { max: 1, onnotice: () => {} })
      await sql.unsafe(`drop schema if exists "${schema}" cascade`)
      await sql.end({ timeout: 1 })
    }
  })
})

const mosquittoMissing = spawnSync('mosquitto', ['-h'], { stdio: 'ignore' }).error !== undefined
if (mosquittoMissing && !ci) {
  console.warn(
    'hub reconnect test skipped: no mosquitto binary on PATH (Debian package mosquitto: apt-get install mosquitto)',
  )
}

describe.skipIf(mosquittoMissing && !ci)('startHub when the broker comes up later', () => {
  it('keeps reconnecting in the background: health turns healthy once the broker is there', async () => {
    if (mosquittoMissing)
      throw new Error('CI=true needs the mosquitto binary (Debian package mosquitto)')
    const port = await closedPort()
    const config = await load({ mqtt: { url: `mqtt://127.0.0.1:${port}`, startWaitMs: 100 } })
    const hub = await startHub(config, { logger: silentLogger })
    // A broker of this test's own, on the port the hub has been trying.
    const broker = spawn('mosquitto', ['-p', String(port)], { stdio: 'ignore' })
    try {
      expect((await hub.health()).components.mqtt?.status).toBe('degraded')
      const end = Date.now() + 15_000
      while ((await hub.health()).status !== 'healthy') {
        if (Date.now() > end) throw new Error('the bridge did not reconnect within 15 s')
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
      expect((await hub.health()).components.mqtt).toMatchObject({
        status: 'healthy',
        details: { connected: true },
      })
      await hub.kernel.services.call('mqtt.publish', { topic: 'hub-test/x', payload: 1 })
    } finally {
      await hub.stop()
      broker.kill('SIGTERM')
    }
  }, 30_000)
})
