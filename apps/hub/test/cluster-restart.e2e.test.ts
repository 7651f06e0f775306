import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CoreError, silentLogger } from '@core/contracts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { IN_CI } from '../../../packages/mindbus/test/helpers.js'
import {
  canStartBroker,
  type PrivateBroker,
  startPrivateBroker,
} from '../../../packages/mindbus/test/private-broker.js'
import { loadHubConfig } from '../src/config.js'
import { type RunningHub, startHub } from '../src/hub.js'
import { ADMIN_TOKEN, stageClusterPlugins } from './cluster-hubs.js'
import { writeHubConfig } from './helpers.js'

/** A port of its own: the MindBus package's restart test uses 5674. */
const PORT = Number(process.env.CORE_HUB_PRIVATE_AMQP_PORT ?? 5675)
const skip = !canStartBroker && !IN_CI
if (skip)
  console.warn(
    'rabbitmq-server is not installed: skipping the hub broker-restart test (apt-get install rabbitmq-server)',
  )

/**
 * Two hubs in cluster mode on a PRIVATE RabbitMQ node (never the shared one), restarted with
 * `rabbitmqctl stop_app` / `start_app` while 1,000 remote calls are in flight.
 */
describe.skipIf(skip)('cluster mode across a RabbitMQ restart', () => {
  let broker: PrivateBroker | undefined
  let root: string
  const hubs: RunningHub[] = []

  async function boot(name: string, plugins: string[], url: string): Promise<RunningHub> {
    const dir = join(root, name)
    await mkdir(dir, { recursive: true })
    const file = await writeHubConfig(dir, {
      dataDir: './data',
      pluginDirs: [await stageClusterPlugins(dir, plugins)],
      config: { weather: { hub: name } },
      http: { port: 0 },
      mqtt: { enabled: false },
      // A long TTL: the passports learnt over MindBus outlive the broker's downtime.
      node: { name: `restart-${name}`, heartbeat: { intervalMs: 1_000, ttlMs: 120_000 } },
      mindbus: { maxPriority: 10, consumerChannels: 16 },
    })
    const config = await loadHubConfig({
      argv: ['--config', file],
      env: { CORE_ADMIN_TOKEN: ADMIN_TOKEN, CORE_AMQP_URL: url },
    })
    const hub = await startHub(config, { logger: silentLogger })
    hubs.push(hub)
    return hub
  }

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'core-restart-'))
    broker = await startPrivateBroker(PORT)
    await boot('b', ['weather'], broker.url)
    await boot('a', ['relay'], broker.url)
  }, 240_000)

  afterAll(async () => {
    await Promise.allSettled(hubs.map((h) => h.stop()))
    await broker?.stop()
    await rm(root, { recursive: true, force: true })
  }, 120_000)

  it('settles every one of 1,000 in-flight calls by its deadline, then serves again', async () => {
    const [b, a] = hubs as [RunningHub, RunningHub]
    const uidB = b.node.lease?.uid as string
    await expect
      .poll(() => a.node.registry.get(uidB)?.healthState, { timeout: 20_000 })
      .toBe('ALIVE')
    expect(await a.kernel.services.call('weather.read', {})).toEqual({ hub: 'b' })

    const timeoutMs = 15_000
    const inFlight = Array.from({ length: 1_000 }, () =>
      a.kernel.services.call('weather.slow', { ms: 200 }, { timeoutMs }).then(
        () => 'ok',
        (error: unknown) => (CoreError.is(error) ? error.code : 'not a CoreError'),
      ),
    )
    await (broker as PrivateBroker).stopApp()
    // The deadline is the registry's own: none may still be pending once it passed.
    const outcomes = await Promise.all(inFlight)
    expect(outcomes).toHaveLength(1_000)
    for (const outcome of new Set(outcomes))
      expect(['ok', 'E_UNAVAILABLE', 'E_TIMEOUT']).toContain(outcome)

    // While it is down: health degraded, calls refused at once.
    await expect.poll(async () => (await a.health()).components.mindbus?.status).toBe('degraded')
    const down = await a.kernel.services.call('weather.read', {}).catch((e: unknown) => e)
    expect(CoreError.is(down, 'E_UNAVAILABLE')).toBe(true)

    await (broker as PrivateBroker).startApp()
    await expect
      .poll(
        () =>
          a.kernel.services.call('weather.read', {}, { timeoutMs: 2_000 }).catch((e: unknown) => e),
        { timeout: 60_000, interval: 500 },
      )
      .toEqual({ hub: 'b' })
    expect((await a.health()).components.mindbus?.status).toBe('healthy')
  }, 240_000)
})
