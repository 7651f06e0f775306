import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type CoreError, type StateChange, silentLogger } from '@core/contracts'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import {
  describeWithRedis,
  freshPrefix,
  type PrivateRedis,
  startPrivateRedis,
  TEST_REDIS_URL,
} from '../../../packages/redis/test/redis-server.js'
import { loadHubConfig } from '../src/config.js'
import { type RunningHub, startHub } from '../src/hub.js'
import { closedPort, stagePlugins, writeHubConfig } from './helpers.js'

let dir: string
const hubs: RunningHub[] = []
const servers: PrivateRedis[] = []
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hub-redis-'))
  await stagePlugins(dir)
})
afterEach(async () => {
  for (const hub of hubs.splice(0)) await hub.stop()
  for (const server of servers.splice(0)) await server.destroy()
  await rm(dir, { recursive: true, force: true })
})

const load = async (
  name: string,
  extra: Record<string, unknown> = {},
  env: Record<string, string> = {},
) => {
  const file = await writeHubConfig(join(dir), {
    pluginDirs: ['./plugins'],
    dataDir: `./${name}`,
    http: { port: 0, auth: false },
    mqtt: { url: `mqtt://127.0.0.1:${await closedPort()}`, startWaitMs: 100 },
    ...extra,
  })
  return loadHubConfig({ argv: ['--config', file], env })
}

describe('hub config: redis', () => {
  it('takes CORE_REDIS_URL and CORE_STORAGE_CACHE over the file', async () => {
    const config = await load(
      'a',
      { redis: { url: 'redis://file:6379', keyPrefix: 'site1:', cacheTtlMs: 5_000 } },
      { CORE_REDIS_URL: 'redis://env:6380', CORE_STORAGE_CACHE: 'Redis' },
    )
    expect(config.redis).toEqual({
      url: 'redis://env:6380',
      keyPrefix: 'site1:',
      storageCache: true,
      cacheTtlMs: 5_000,
      startWaitMs: 2_000,
    })
    expect((await load('a')).redis).toBeUndefined()
  })

  it('refuses the storage cache without a Redis URL, persistState with Redis, and a bad URL', async () => {
    const codeOf = (promise: Promise<unknown>) =>
      promise.then(
        () => 'resolved',
        (error: CoreError) => `${error.code} ${error.message}`,
      )
    expect(await codeOf(load('a', {}, { CORE_STORAGE_CACHE: 'redis' }))).toMatch(
      /^E_VALIDATION .*set CORE_REDIS_URL/,
    )
    expect(
      await codeOf(load('a', { persistState: ['devices'] }, { CORE_REDIS_URL: TEST_REDIS_URL })),
    ).toMatch(/^E_VALIDATION persistState cannot be used with Redis/)
    expect(await codeOf(load('a', {}, { CORE_REDIS_URL: 'http://x' }))).toMatch(
      /^E_VALIDATION .*CORE_REDIS_URL must start with redis:\/\//,
    )
  })
})

describeWithRedis('hubs on one Redis', () => {
  it('share state, report a healthy redis component and export Redis metrics', async () => {
    const redis = { url: TEST_REDIS_URL, keyPrefix: freshPrefix(), storageCache: true }
    const a = await startHub(await load('a', { redis }), { logger: silentLogger })
    hubs.push(a)
    const b = await startHub(await load('b', { redis }), { logger: silentLogger })
    hubs.push(b)
    expect(a.storage.adapterName).toBe('sqlite+redis')
    const seen: StateChange[] = []
    b.kernel.state.watch('hello', '#', (change) => {
      seen.push(change)
    })
    await vi.waitFor(() => expect(b.redis?.status().streamId).not.toBe(''))
    const written = await a.kernel.state.set('hello', 'shared', { from: 'a' })
    expect((await b.kernel.state.get('hello', 'shared'))?.value).toEqual({ from: 'a' })
    await vi.waitFor(() => expect(seen.map((c) => c.revision)).toEqual([written.revision]))

    const health = await a.health()
    expect(health.components.redis?.status).toBe('healthy')
    const metrics = await (await fetch(`${a.address.url}/metrics`)).text()
    expect(metrics).toMatch(/^core_redis_command_duration_seconds_count\{op="set"\} [1-9]/m)
    expect(metrics).toMatch(/^core_redis_connected 1$/m)
  })
})

describeWithRedis('a hub whose Redis goes down', () => {
  it('reports redis degraded, refuses state calls with E_UNAVAILABLE, and recovers by itself', async () => {
    const server = await startPrivateRedis()
    servers.push(server)
    const hub = await startHub(await load('a', { redis: { url: server.url } }), {
      logger: silentLogger,
    })
    hubs.push(hub)
    await hub.kernel.state.set('hello', 'k', 'before')
    expect((await hub.health()).components.redis?.status).toBe('healthy')

    await server.kill()
    await vi.waitFor(async () =>
      expect((await hub.health()).components.redis?.status).toBe('degraded'),
    )
    const refused = await hub.kernel.state
      .set('hello', 'k', 'during')
      .catch((error: CoreError) => error)
    expect(refused).toMatchObject({ code: 'E_UNAVAILABLE' })

    await server.start()
    await vi.waitFor(
      async () => expect((await hub.health()).components.redis?.status).toBe('healthy'),
      { timeout: 10_000 },
    )
    expect((await hub.kernel.state.set('hello', 'k', 'after')).value).toBe('after')
  }, 30_000)
})
