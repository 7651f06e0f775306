import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CoreError, silentLogger } from '@core/contracts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
// The probe: fails under CI=true, skips locally with how to start RabbitMQ.
import { AMQP_URL, requireBroker, skipBroker } from '../../../packages/mindbus/test/helpers.js'
import { loadHubConfig } from '../src/config.js'
import { type RunningHub, startHub } from '../src/hub.js'
import { ADMIN_TOKEN, deleteNodeQueues, stageClusterPlugins } from './cluster-hubs.js'
import { writeHubConfig } from './helpers.js'

/**
 * Two hubs in this process, cluster mode WITHOUT etcd: each keeps its own in-memory node
 * registry and learns the other's passport over MindBus (`evt.core.node.*`).
 */
describe.skipIf(skipBroker)('cluster mode without etcd (passports over MindBus)', () => {
  let root: string
  const hubs: Record<string, RunningHub> = {}

  async function boot(name: string, plugins: string[], room: string): Promise<RunningHub> {
    const dir = join(root, name)
    await mkdir(dir, { recursive: true })
    const file = await writeHubConfig(dir, {
      dataDir: './data',
      pluginDirs: [await stageClusterPlugins(dir, plugins)],
      config: { weather: { hub: name }, garage: { hub: name } },
      http: { port: 0 },
      mqtt: { enabled: false },
      node: {
        name: `gossip-${name}`,
        labels: { room },
        heartbeat: { intervalMs: 300, ttlMs: 1_200, gracePeriodMs: 5_000 },
      },
      mindbus: { maxPriority: 10, consumerChannels: 2 },
    })
    const config = await loadHubConfig({
      argv: ['--config', file],
      env: { CORE_ADMIN_TOKEN: ADMIN_TOKEN, CORE_AMQP_URL: AMQP_URL },
    })
    const hub = await startHub(config, { logger: silentLogger })
    hubs[name] = hub
    return hub
  }

  beforeAll(async () => {
    requireBroker()
    root = await mkdtemp(join(tmpdir(), 'core-gossip-'))
    await Promise.all([boot('a', ['relay'], 'hall'), boot('b', ['weather', 'garage'], 'kitchen')])
  }, 60_000)

  afterAll(async () => {
    const uids = Object.values(hubs).map((h) => h.node.lease?.uid ?? '')
    await Promise.all(Object.values(hubs).map((h) => h.stop()))
    await deleteNodeQueues(AMQP_URL, uids)
    await rm(root, { recursive: true, force: true })
  }, 30_000)

  it('each hub learns the other passport and calls its services', async () => {
    const a = hubs.a as RunningHub
    const b = hubs.b as RunningHub
    const uidB = b.node.lease?.uid as string
    await expect
      .poll(() => a.node.registry.get(uidB)?.healthState, { timeout: 10_000 })
      .toBe('ALIVE')
    expect(a.node.registry.get(uidB)?.passport.metadata.labels).toEqual({ room: 'kitchen' })
    await expect(a.kernel.services.call('garage.open', {})).resolves.toEqual({
      hub: 'b',
      open: true,
    })
    await expect(
      a.kernel.services.call('weather.read', {}, { meta: { route: { selector: 'room=kitchen' } } }),
    ).resolves.toEqual({ hub: 'b' })
    const health = await a.health()
    expect(health.components.mindbus).toMatchObject({ status: 'healthy' })
    // MindBus's metrics are on the kernel's registry, which GET /metrics serves.
    expect(await a.kernel.metrics.metrics()).toMatch(
      /^core_mindbus_calls_sent_total\{[^}]*outcome="ok"[^}]*\} [1-9]/m,
    )
  })

  it('a hub that stops says goodbye: it leaves the other registry and its services the candidates', async () => {
    const a = hubs.a as RunningHub
    const b = hubs.b as RunningHub
    const uidB = b.node.lease?.uid as string
    await expect
      .poll(() => a.node.registry.get(uidB)?.healthState, { timeout: 10_000 })
      .toBe('ALIVE')
    await b.stop()
    await expect.poll(() => a.node.registry.get(uidB), { timeout: 5_000 }).toBeUndefined()
    const error = await a.kernel.services.call('garage.open', {}).catch((e: unknown) => e)
    expect(CoreError.is(error, 'E_SERVICE_NOT_FOUND')).toBe(true)
  })
})
