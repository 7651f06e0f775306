import { randomBytes, randomUUID } from 'node:crypto'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CoreError } from '@core/contracts'
import { createRecordingLogger, type RecordingLogger } from '@core/testing'
import { Connection } from 'rabbitmq-client'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
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
 * Two hubs in cluster mode on a PRIVATE RabbitMQ node (never the shared one: `ctl.all.*`
 * reaches every hub on a broker): a plugin loaded on B after start is callable from A;
 * `ctl.all.stop` overtakes 10,000 queued commands; the broker restarted with
 * `rabbitmqctl stop_app` / `start_app` while 1,000 remote calls are in flight and events are
 * exported with confirms.
 */
describe.skipIf(skip)('cluster mode on a private RabbitMQ (late plugins, control, restart)', () => {
  let broker: PrivateBroker | undefined
  let root: string
  const hubs: RunningHub[] = []
  const logs: Record<string, RecordingLogger> = {}

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
      mindbus: {
        maxPriority: 10,
        consumerChannels: 16,
        events: { export: ['weather.#'], import: ['weather.#'] },
      },
    })
    const config = await loadHubConfig({
      argv: ['--config', file],
      env: { CORE_ADMIN_TOKEN: ADMIN_TOKEN, CORE_AMQP_URL: url },
    })
    const logger = createRecordingLogger()
    logs[name] = logger
    const hub = await startHub(config, { logger })
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

  /** B's node uid, once A sees B ALIVE. */
  async function peers(): Promise<{ a: RunningHub; b: RunningHub; uidB: string }> {
    const [b, a] = hubs as [RunningHub, RunningHub]
    const uidB = b.node.lease?.uid as string
    await expect
      .poll(() => a.node.registry.get(uidB)?.healthState, { timeout: 20_000 })
      .toBe('ALIVE')
    return { a, b, uidB }
  }

  it('serves a plugin loaded on B after start: A calls it, and no longer once B unloads it', async () => {
    const { a, b } = await peers()
    const name = `late${randomBytes(4).toString('hex')}`
    const folder = join(root, 'b', 'late', name)
    await mkdir(folder, { recursive: true })
    await writeFile(
      join(folder, 'package.json'),
      JSON.stringify({
        name,
        version: '1.0.0',
        type: 'module',
        corePlugin: { name, entry: './index.js', coreApi: '^1.0.0' },
      }),
    )
    await writeFile(
      join(folder, 'index.js'),
      `export default { setup(ctx) { ctx.services.register('${name}.ping', () => ({ hub: 'b', plugin: '${name}' }), { params: { type: 'object' } }) } }\n`,
    )
    const call = (): Promise<unknown> =>
      a.kernel.services
        .call(`${name}.ping`, {}, { timeoutMs: 5_000 })
        .catch((e: unknown) => (CoreError.is(e) ? e.code : e))
    expect(await call()).toBe('E_SERVICE_NOT_FOUND')
    expect((await b.kernel.plugins.load(folder)).state).toBe('started')
    expect(b.cluster?.mindbus.namespaces).toContain(name)
    // A learns B's new capabilities from its passport; B consumes cmd.<name>.<uid> by then.
    await expect.poll(call, { timeout: 30_000, interval: 250 }).toEqual({ hub: 'b', plugin: name })
    await b.kernel.plugins.unload(name)
    await expect.poll(() => b.cluster?.mindbus.namespaces.includes(name)).toBe(false)
    await expect.poll(call, { timeout: 30_000, interval: 250 }).toBe('E_SERVICE_NOT_FOUND')
  }, 120_000)

  it('ctl.all.stop sent with POST /api/v1/control is handled on B before any of 10,000 queued commands', async () => {
    const { a, b, uidB } = await peers()
    const order: string[] = []
    const undo = b.kernel.services.use(async (ctx, next) => {
      order.push(ctx.name)
      return next()
    })
    const unStop = b.cluster?.mindbus.onControl('stop', () => void order.push('STOP')) ?? (() => {})
    const raw = new Connection({ url: (broker as PrivateBroker).url, noDelay: true })
    const pub = raw.createPublisher({ confirm: true })
    const nodeQueue = `mindbus.node.${uidB}`
    try {
      // Occupy B's 16 command consumers (prefetch 1 each) with slow calls from A…
      const busy = Array.from({ length: 16 }, () =>
        a.kernel.services.call('weather.slow', { ms: 90_000 }, { timeoutMs: 100_000 }).then(
          () => 'ok',
          (e: unknown) => (CoreError.is(e) ? e.code : 'not a CoreError'),
        ),
      )
      await expect
        .poll(() => order.filter((n) => n === 'weather.slow').length, { timeout: 30_000 })
        .toBe(16)
      // …then queue 10,000 commands behind them on B's node queue.
      const queued: Promise<void>[] = []
      for (let i = 0; i < 10_000; i++) {
        queued.push(
          pub.send(
            {
              exchange: 'mindbus.main',
              routingKey: `cmd.weather.${uidB}`,
              expiration: '120000',
              durable: true,
              priority: 20,
              contentType: 'application/json',
            },
            {
              specversion: '1.0',
              id: randomUUID(),
              source: 'test',
              type: 'core.mindbus.command',
              time: new Date().toISOString(),
              data: { action: 'read', params: {} },
            },
          ),
        )
      }
      await Promise.all(queued)
      expect((await raw.queueDeclare({ queue: nodeQueue, passive: true })).messageCount).toBe(
        10_000,
      )
      const sent = await fetch(`${a.address.url}/api/v1/control`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ target: 'all', scope: 'stop' }),
      })
      expect(sent.status).toBe(202)
      // stop aborts the 16 running handlers; their callers get E_CANCELLED…
      expect(await Promise.all(busy)).toEqual(Array.from({ length: 16 }, () => 'E_CANCELLED'))
      // …and the queue drains only after it: the first queued command runs after STOP.
      await expect.poll(() => order.includes('weather.read'), { timeout: 30_000 }).toBe(true)
      const stopAt = order.indexOf('STOP')
      expect(stopAt).toBe(16)
      expect(order.indexOf('weather.read')).toBeGreaterThan(stopAt)
    } finally {
      undo()
      unStop()
      await raw.queuePurge(nodeQueue).catch(() => undefined)
      await pub.close()
      await raw.close()
    }
  }, 180_000)

  it('settles every one of 1,000 in-flight calls by its deadline, serves again, and loses no confirmed event', async () => {
    const { a, b } = await peers()
    expect(await a.kernel.services.call('weather.read', {})).toEqual({ hub: 'b' })

    // Events exported from B (confirmed publishes) all through the restart; A collects them.
    const received = new Set<string>()
    const unsubscribe = a.kernel.bus.subscribe('weather.restart', (event) => {
      received.add(event.id)
    })
    const published: string[] = []
    let publishing = true
    const publisher = (async () => {
      for (let i = 0; publishing; i++) {
        const id = randomUUID()
        await b.kernel.bus.publish('weather.restart', { i }, { id, source: '/test/restart' })
        published.push(id)
        await new Promise((resolve) => setTimeout(resolve, 25))
      }
    })()
    await expect.poll(() => published.length).toBeGreaterThan(10)

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

    const beforeRecovery = published.length
    await (broker as PrivateBroker).startApp()
    await expect
      .poll(
        () =>
          a.kernel.services.call('weather.read', {}, { timeoutMs: 2_000 }).catch((e: unknown) => e),
        { timeout: 60_000, interval: 500 },
      )
      .toEqual({ hub: 'b' })
    expect((await a.health()).components.mindbus?.status).toBe('healthy')

    // Stop publishing once a few more events went out after the recovery.
    const recovered = published.length
    await expect.poll(() => published.length, { timeout: 30_000 }).toBeGreaterThan(recovered + 10)
    publishing = false
    await publisher
    expect(published.length).toBeGreaterThan(beforeRecovery)
    const failedIds = (): Set<string> =>
      new Set(
        (logs.b?.records ?? [])
          .filter((r) => r.msg === 'MindBus: event export failed')
          .map((r) => r.fields.id as string),
      )
    // None lost: every export that was not refused (logged with its id) reaches A; the
    // durable event queue on the broker kept those confirmed before the restart.
    await vi.waitFor(
      () => {
        const failed = failedIds()
        expect(published.filter((id) => !failed.has(id) && !received.has(id))).toEqual([])
      },
      { timeout: 60_000, interval: 250 },
    )
    expect(published.length - failedIds().size).toBeGreaterThan(0)
    unsubscribe()
  }, 300_000)
})
