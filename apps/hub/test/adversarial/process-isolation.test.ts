import { randomBytes } from 'node:crypto'
import { cp, mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { silentLogger } from '@core/contracts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadHubConfig } from '../../src/config.js'
import { type RunningHub, startHub } from '../../src/hub.js'
import { closedPort, writeHubConfig } from '../helpers.js'

const SPY = fileURLToPath(new URL('./fixtures/spy', import.meta.url))

interface Attempt {
  got?: unknown
  code?: string
}

// Issue 13 §4: a `process` plugin reading /etc/passwd, the hub's database file or
// process.env.CORE_ADMIN_TOKEN gets nothing; it cannot spawn, start workers, load addons or
// write outside its data folder. Through the real hub (startHub, SQLite, HTTP).
describe('adversarial: a process plugin inside the hub', { timeout: 60_000 }, () => {
  let dir: string
  let hub: RunningHub
  let out: Record<string, Attempt>
  const token = randomBytes(32).toString('hex')
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hub-process-'))
    await cp(SPY, join(dir, 'plugins', 'spy'), { recursive: true })
    const file = await writeHubConfig(dir, {
      pluginDirs: ['./plugins'],
      dataDir: './data',
      http: { port: 0 },
      mqtt: { url: `mqtt://127.0.0.1:${await closedPort()}`, startWaitMs: 100 },
      lifecycleTimeoutMs: 30_000,
    })
    const env = { CORE_ADMIN_TOKEN: token, CORE_DATABASE_URL: 'postgres://hub:secret@db/hub' }
    const config = await loadHubConfig({
      argv: ['--config', file],
      env: { CORE_ADMIN_TOKEN: token },
    })
    // The secrets are in the hub's own environment too, as in production.
    const saved = { ...process.env }
    Object.assign(process.env, env)
    try {
      hub = await startHub(config, { logger: silentLogger })
    } finally {
      for (const k of Object.keys(env)) {
        if (saved[k] === undefined) delete process.env[k]
        else process.env[k] = saved[k]
      }
    }
    expect(hub.report.failed).toEqual([])
    expect(hub.report.started).toContain('spy')
    out = (await hub.kernel.services.call(
      'spy.escape',
      { databaseFile: join(dir, 'data', 'hub.db'), outside: join(dir, 'data', 'owned.txt') },
      { timeoutMs: 30_000 },
    )) as Record<string, Attempt>
  }, 90_000)
  afterAll(async () => {
    await hub?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('runs in its own process and may write its own data folder', async () => {
    expect(out.writeOwn).toEqual({ got: 'mine' })
    expect(await readFile(join(dir, 'data', 'plugins', 'spy', 'own.txt'), 'utf8')).toBe('mine')
  })

  it('cannot read /etc/passwd (sync or async)', () => {
    expect(out.passwd).toEqual({ code: 'ERR_ACCESS_DENIED' })
    expect(out.passwdAsync).toEqual({ code: 'ERR_ACCESS_DENIED' })
  })

  it("cannot read the hub's database file", async () => {
    expect((await stat(join(dir, 'data', 'hub.db'))).size).toBeGreaterThan(0)
    expect(out.database).toEqual({ code: 'ERR_ACCESS_DENIED' })
  })

  it("gets none of the hub's secrets in its environment", () => {
    expect(out.adminToken).toEqual({ got: null })
    expect(out.databaseUrl).toEqual({ got: null })
    expect(out.coreEnv).toEqual({ got: ['CORE_PLUGIN_DATA_DIR'] })
  })

  it('cannot spawn or fork a child process, nor start a worker', () => {
    expect(out.spawn).toEqual({ code: 'ERR_ACCESS_DENIED' })
    expect(out.fork).toEqual({ code: 'ERR_ACCESS_DENIED' })
    expect(out.worker).toEqual({ code: 'ERR_ACCESS_DENIED' })
  })

  it('cannot load a native addon', () => {
    expect(out.addon).toEqual({ code: 'ERR_DLOPEN_DISABLED' })
  })

  it('cannot write outside its data folder', async () => {
    expect(out.writeOutside).toEqual({ code: 'ERR_ACCESS_DENIED' })
    await expect(stat(join(dir, 'data', 'owned.txt'))).rejects.toMatchObject({ code: 'ENOENT' })
  })

  it('leaves the hub healthy', async () => {
    expect((await hub.kernel.plugins.get('spy')).state).toBe('started')
    expect((await hub.health()).plugins.spy?.status).toBe('healthy')
  })
})
