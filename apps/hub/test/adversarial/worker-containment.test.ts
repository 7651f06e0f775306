// Adversarial suite, worker part: a `worker` plugin that loops forever or allocates without bound
// is terminated, and the hub goes on serving everything else (other plugins' calls, /health).
import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type CloudEvent, silentLogger } from '@core/contracts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadHubConfig } from '../../src/config.js'
import { type RunningHub, startHub } from '../../src/hub.js'
import { writeHubConfig } from '../helpers.js'

const SPINNER = `export default {
  setup(ctx) {
    const any = { params: {} }
    ctx.services.register('spinner.ok', () => 'fine', any)
    ctx.services.register('spinner.loop', () => { for (;;) {} }, any)
    ctx.services.register('spinner.alloc', () => {
      const hoard = []
      for (;;) hoard.push(new Array(100_000).fill(hoard.length))
    }, any)
  },
}
`

const STEADY = `export default {
  setup(ctx) {
    ctx.services.register('steady.ping', () => 'pong', { params: {} })
  },
}
`

describe('a worker plugin that misbehaves is contained', () => {
  let dir: string
  let hub: RunningHub
  const adminToken = randomBytes(32).toString('hex')
  const failures: CloudEvent[] = []

  const post = (service: string) =>
    fetch(`${hub.address.url}/api/v1/services/${service}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: '{}',
    })
  const answer = async (service: string): Promise<{ status: number; body: unknown }> => {
    const res = await post(service)
    return { status: res.status, body: await res.json() }
  }
  const othersServe = async (): Promise<void> => {
    expect(await answer('steady.ping')).toEqual({ status: 200, body: 'pong' })
    const health = await fetch(`${hub.address.url}/health`)
    expect(health.status).toBe(200)
    const report = (await health.json()) as { plugins: Record<string, { status: string }> }
    expect(report.plugins.steady?.status).toBe('healthy')
  }
  const restarted = async (): Promise<void> => {
    await expect
      .poll(async () => (await hub.kernel.plugins.get('spinner')).state, { timeout: 30_000 })
      .toBe('started')
    expect(await answer('spinner.ok')).toEqual({ status: 200, body: 'fine' })
    await expect
      .poll(async () => (await hub.kernel.health()).status, { timeout: 30_000 })
      .toBe('healthy')
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hub-contain-'))
    const plugin = async (name: string, source: string, manifest: Record<string, unknown>) => {
      const folder = join(dir, 'plugins', name)
      await mkdir(folder, { recursive: true })
      await writeFile(join(folder, 'index.js'), source)
      await writeFile(
        join(folder, 'package.json'),
        JSON.stringify({
          name,
          version: '1.0.0',
          type: 'module',
          corePlugin: { name, entry: './index.js', coreApi: '^1.0.0', ...manifest },
        }),
      )
    }
    await plugin('steady', STEADY, {})
    await plugin('spinner', SPINNER, {
      isolation: 'worker',
      resourceLimits: { maxOldGenerationSizeMb: 32 },
    })
    const file = await writeHubConfig(dir, {
      pluginDirs: ['./plugins'],
      dataDir: './data',
      http: { port: 0 },
      mqtt: { enabled: false },
      // The watchdog of a worker's event loop is the start step's timeout.
      lifecycleTimeoutMs: 5_000,
    })
    const config = await loadHubConfig({
      argv: ['--config', file],
      env: { CORE_ADMIN_TOKEN: adminToken },
    })
    hub = await startHub(config, { logger: silentLogger })
    expect(hub.report.started.sort()).toEqual(['spinner', 'steady'])
    hub.kernel.bus.subscribe('core.plugin.failed', (event) => {
      failures.push(event)
    })
  }, 60_000)

  afterAll(async () => {
    await hub?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('terminates a worker in an infinite loop; the other plugins and /health answer meanwhile', async () => {
    const before = failures.length
    const looping = answer('spinner.loop')
    // The hub's thread is free while the worker spins.
    await othersServe()
    const { status, body } = await looping
    expect(status).toBeGreaterThanOrEqual(500)
    expect(JSON.stringify(body)).toContain('event loop blocked')
    await expect.poll(() => failures.length, { timeout: 30_000 }).toBeGreaterThan(before)
    expect(failures.at(-1)?.data).toMatchObject({ name: 'spinner' })
    await othersServe()
    await restarted()
  }, 90_000)

  it('terminates a worker that allocates without bound, without harming the hub', async () => {
    const rssBefore = process.memoryUsage().rss
    const { status, body } = await answer('spinner.alloc')
    expect(status).toBeGreaterThanOrEqual(500)
    expect(JSON.stringify(body)).toContain('ran out of memory')
    await othersServe()
    await restarted()
    // The hoard died with the worker: the hub did not take it over (a generous bound).
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(512 * 1024 * 1024)
  }, 90_000)
})
