import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CoreError, silentLogger } from '@core/contracts'
import postgres from 'postgres'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { loadHubConfig } from '../src/config.js'
import { describeStorage, formatStartup, formatStop, startHub } from '../src/hub.js'
import { stagePlugins, writeHubConfig } from './helpers.js'

let dir: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hub-'))
  await stagePlugins(dir)
})
afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

const load = async (extra: Record<string, unknown> = {}, env: Record<string, string> = {}) => {
  const file = await writeHubConfig(dir, { pluginDirs: ['./plugins'], dataDir: './data', ...extra })
  return loadHubConfig({ argv: ['--config', file], env })
}

describe('startHub', () => {
  it('boots the example plugins on SQLite and prints what started', async () => {
    const config = await load()
    const hub = await startHub(config, { logger: silentLogger })
    expect(hub.report.started.sort()).toEqual(['automation', 'devices', 'hello'])
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
    expect(text).toContain('3 started, 0 failed, 0 skipped')
    const stop = await hub.stop()
    expect(stop.stopped.sort()).toEqual(['automation', 'devices', 'hello'])
    expect(formatStop(stop, 'SIGINT')).toMatch(/^Hub stopped \(SIGINT\): 3 plugin\(s\) stopped/)
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
