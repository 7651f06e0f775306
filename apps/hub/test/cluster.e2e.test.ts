import { randomUUID } from 'node:crypto'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runCli } from '@core/cli'
import { Connection } from 'rabbitmq-client'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
// The probes: fail under CI=true, skip locally with how to start the server.
import { AMQP_URL, requireBroker, skipBroker } from '../../../packages/mindbus/test/helpers.js'
import {
  describeWithEtcd,
  ETCD_URL,
  freshPrefix,
} from '../../../packages/node-registry-etcd/test/etcd-server.js'
import {
  ADMIN_TOKEN,
  api,
  deleteNodeQueues,
  type HubProcess,
  relay,
  spawnHub,
  stageClusterPlugins,
  started,
  stopHub,
} from './cluster-hubs.js'
import { writeHubConfig } from './helpers.js'

/** Short liveness, so that a killed hub leaves the candidates quickly (etcd leases are whole seconds). */
const HEARTBEAT = { intervalMs: 500, ttlMs: 2_000, gracePeriodMs: 10_000 }

describeWithEtcd('three hub processes, one RabbitMQ, one etcd', () => {
  describe.skipIf(skipBroker)('cluster mode', () => {
    const hubs: Record<'a' | 'b' | 'c', HubProcess> = {} as Record<'a' | 'b' | 'c', HubProcess>
    let root: string

    beforeAll(async () => {
      requireBroker()
      root = await mkdtemp(join(tmpdir(), 'core-cluster-'))
      const prefix = freshPrefix()
      // a: hall, a plugin that calls; b: kitchen, serves weather; c: garage, serves weather + garage.
      const layout = {
        a: { room: 'hall', plugins: ['relay'] },
        b: { room: 'kitchen', plugins: ['relay', 'weather'] },
        c: { room: 'garage', plugins: ['weather', 'garage'] },
      } as const
      for (const [name, spec] of Object.entries(layout) as Array<
        [keyof typeof layout, (typeof layout)[keyof typeof layout]]
      >) {
        const dir = join(root, name)
        await mkdir(dir, { recursive: true })
        const config = await writeHubConfig(dir, {
          dataDir: './data',
          pluginDirs: [await stageClusterPlugins(dir, spec.plugins)],
          config: { weather: { hub: name }, garage: { hub: name } },
          http: { port: 0 },
          mqtt: { enabled: false },
          node: {
            name: `hub-${name}`,
            labels: { room: spec.room },
            etcdPrefix: prefix,
            heartbeat: HEARTBEAT,
          },
          mindbus: {
            events: { export: ['weather.#'], import: ['weather.#'] },
            maxPriority: 10,
            consumerChannels: 4,
          },
        })
        hubs[name] = spawnHub(name, config, { CORE_AMQP_URL: AMQP_URL, CORE_ETCD_URL: ETCD_URL })
      }
      await Promise.all(Object.values(hubs).map((hub) => started(hub)))
      // Every hub sees the three ALIVE passports.
      for (const hub of Object.values(hubs)) {
        await vi.waitFor(
          async () => {
            const { body } = await api(hub, '/api/v1/nodes?onlyHealthy=true')
            expect(body).toHaveLength(3)
          },
          { timeout: 15_000, interval: 200 },
        )
      }
    }, 150_000)

    afterAll(async () => {
      await Promise.all(Object.values(hubs).map((hub) => stopHub(hub)))
      await deleteNodeQueues(
        AMQP_URL,
        Object.values(hubs).map((hub) => hub.uid),
      )
      await rm(root, { recursive: true, force: true })
    }, 60_000)

    it('a plugin on hub A calls a service of a plugin on hub C and gets its result', async () => {
      expect(await relay(hubs.a, 'garage.open')).toEqual({
        ok: true,
        result: { hub: 'c', open: true },
      })
    })

    it('with a selector or a node uid the call reaches the one matching hub', async () => {
      for (let i = 0; i < 4; i++) {
        expect(await relay(hubs.a, 'weather.read', { selector: 'room=kitchen' })).toMatchObject({
          result: { hub: 'b' },
        })
        expect(await relay(hubs.a, 'weather.read', { selector: 'room in (garage)' })).toMatchObject(
          { result: { hub: 'c' } },
        )
        expect(await relay(hubs.a, 'weather.read', { node: hubs.c.uid })).toMatchObject({
          result: { hub: 'c' },
        })
      }
      expect(await relay(hubs.a, 'weather.read', { selector: 'room=attic' })).toMatchObject({
        ok: false,
        code: 'E_SERVICE_NOT_FOUND',
      })
    })

    it('an event published on C reaches the subscribers on A and B once each', async () => {
      await api(hubs.c, '/api/v1/services/weather.emit', { tag: 'first' })
      await api(hubs.c, '/api/v1/services/weather.emit', { tag: 'second' })
      for (const hub of [hubs.a, hubs.b]) {
        // The second event's arrival is the positive signal that nothing else is on its way.
        await expect
          .poll(
            async () => {
              const seen = (await api(hub, '/api/v1/services/relay.seen', {})).body as Array<{
                tag: string
              }>
              return seen.map((e) => e.tag)
            },
            { timeout: 15_000 },
          )
          .toContain('second')
        const seen = (await api(hub, '/api/v1/services/relay.seen', {})).body as Array<{
          tag: string
          source: string
        }>
        expect(seen.filter((e) => e.tag === 'first')).toEqual([
          { tag: 'first', source: hubs.c.uid },
        ])
      }
    })

    it('POST /api/v1/control on A pauses and resumes B (ctl.<uid>.pause / resume)', async () => {
      const paused = async (): Promise<unknown> => {
        const { body } = await api(hubs.b, '/health')
        return (body as { components?: { mindbus?: { details?: { paused?: boolean } } } })
          .components?.mindbus?.details?.paused
      }
      expect(await paused()).toBe(false)
      const sent = await api(hubs.a, '/api/v1/control', { target: hubs.b.uid, scope: 'pause' })
      expect(sent).toEqual({ status: 202, body: { routingKey: `ctl.${hubs.b.uid}.pause` } })
      await expect.poll(paused).toBe(true)
      await api(hubs.a, '/api/v1/control', { target: 'all', scope: 'resume' })
      await expect.poll(paused).toBe(false)
      expect(await relay(hubs.a, 'weather.read', { selector: 'room=kitchen' })).toMatchObject({
        result: { hub: 'b' },
      })
    })

    it('core services list on A shows the services of B and C with their node', async () => {
      let out = ''
      const code = await runCli(['services', 'list', '--json'], {
        env: { CORE_URL: hubs.a.url, CORE_TOKEN: ADMIN_TOKEN },
        stdout: { write: (text: string) => (out += text) },
        stderr: { write: () => true },
      })
      expect(code).toBe(0)
      const rows = JSON.parse(out) as Array<{ name: string; node: string }>
      expect(rows.filter((r) => r.name === 'garage.open').map((r) => r.node)).toEqual([
        `hub-c (${hubs.c.uid})`,
      ])
      expect(rows.filter((r) => r.name === 'relay.call').map((r) => r.node)).toEqual([
        'local',
        `hub-b (${hubs.b.uid})`,
      ])
    })

    it('on B, a malformed command lands in mindbus.dead and an expired one is dropped (DroppedExpired)', async () => {
      const counters = async (): Promise<{ deadLettered: number; droppedExpired: number }> => {
        const { body } = await api(hubs.b, '/health')
        const details = (
          body as {
            components: { mindbus: { details: { deadLettered: number; droppedExpired: number } } }
          }
        ).components.mindbus.details
        return { deadLettered: details.deadLettered, droppedExpired: details.droppedExpired }
      }
      const before = await counters()
      const conn = new Connection({ url: AMQP_URL, retryLow: 100, retryHigh: 200 })
      const publisher = conn.createPublisher({ confirm: true })
      try {
        const deadBefore = (await conn.queueDeclare({ queue: 'mindbus.dead', passive: true }))
          .messageCount
        const routingKey = `cmd.weather.${hubs.b.uid}`
        await publisher.send(
          { exchange: 'mindbus.main', routingKey, contentType: 'application/json' },
          Buffer.from('{not json'),
        )
        await publisher.send(
          {
            exchange: 'mindbus.main',
            routingKey,
            expiration: '5000',
            durable: true,
            contentType: 'application/json',
          },
          {
            specversion: '1.0',
            id: randomUUID(),
            source: 'cluster-test',
            type: 'core.mindbus.command',
            time: new Date(Date.now() - 10_000).toISOString(),
            data: { action: 'read', params: {} },
          },
        )
        await expect.poll(counters).toEqual({
          deadLettered: before.deadLettered + 1,
          droppedExpired: before.droppedExpired + 1,
        })
        await expect
          .poll(
            async () =>
              (await conn.queueDeclare({ queue: 'mindbus.dead', passive: true })).messageCount,
          )
          .toBeGreaterThan(deadBefore)
      } finally {
        await publisher.close()
        await conn.close()
      }
    })

    it('SIGKILL of C: its services leave the candidates within TTL + one interval, calls go to B or fail fast', async () => {
      hubs.c.child.kill('SIGKILL')
      await hubs.c.exited
      // etcd leases count whole seconds; the poll's own timeout is the bound asked for.
      await expect
        .poll(async () => (await relay(hubs.a, 'garage.open')).code, {
          timeout: HEARTBEAT.ttlMs + HEARTBEAT.intervalMs + 2_000,
          interval: 200,
        })
        .toBe('E_SERVICE_NOT_FOUND')
      for (let i = 0; i < 4; i++) {
        expect(await relay(hubs.a, 'weather.read')).toEqual({ ok: true, result: { hub: 'b' } })
      }
      expect(await relay(hubs.a, 'weather.read', { selector: 'room=garage' })).toMatchObject({
        ok: false,
        code: 'E_SERVICE_NOT_FOUND',
      })
    })
  })
})
