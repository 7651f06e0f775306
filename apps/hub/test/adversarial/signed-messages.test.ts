/**
 * Adversarial proof of signed messages (issue 13 §3/§4) on the real servers: RabbitMQ
 * (MindBus, unique exchange and queue names), Redis (the replay store shared by two hubs) and
 * Mosquitto (signed MQTT calls and signed events of a hub started in-process).
 *
 * Each forged message is refused with its reason counted: tampered data, tampered type, an
 * unknown key id, a key of another broker user, expired, future-dated, replayed to the same hub
 * and to another hub; a valid one passes, and a rotated key works across the rotation. RabbitMQ
 * itself refuses a forged AMQP `user_id`.
 */
import { randomBytes, randomUUID } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { silentLogger } from '@core/contracts'
import { createKernel } from '@core/kernel'
import { createSigner, createVerifier, type SigningKey } from '@core/signing'
import { type AsyncMessage, type Channel, Connection } from 'rabbitmq-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  AMQP_URL,
  dropTopology,
  MemoryDirectory,
  makeNode,
  requireBroker,
  type TestNode,
  uniqueTopology,
} from '../../../../packages/mindbus/test/helpers.js'
import {
  skipBroker as mosquittoDown,
  rawClient,
  requireBroker as requireMosquitto,
  uniquePrefix,
} from '../../../../packages/mqtt/test/broker.js'
import {
  describeWithRedis,
  freshPrefix,
  TEST_REDIS_URL,
} from '../../../../packages/redis/test/redis-server.js'
import { loadHubConfig } from '../../src/config.js'
import { startHub } from '../../src/hub.js'
import { openHubSigning, resolveSigningSettings } from '../../src/signing-config.js'
import { stagePlugins, writeHubConfig } from '../helpers.js'

const secret = (): string => randomBytes(32).toString('hex')
/** The broker user of every test connection (the shared RabbitMQ's guest). */
const USER = decodeURIComponent(new URL(AMQP_URL).username || 'guest')
const K1 = { id: 'k1', alg: 'hmac-sha256', secret: secret(), owner: USER } as const
const K2 = { id: 'k2', alg: 'hmac-sha256', secret: secret(), owner: USER } as const
/** A valid key of another broker user: signing with it from `USER`'s connection is refused. */
const KM = { id: 'mallory', alg: 'hmac-sha256', secret: secret(), owner: 'mallory' } as const
/** A key no hub knows. */
const KX = { id: 'kx', alg: 'hmac-sha256', secret: secret() } as const

const asKey = (k: { id: string; secret: string; owner?: string }): SigningKey => ({
  id: k.id,
  algorithm: 'hmac-sha256',
  secret: k.secret,
  ...(k.owner === undefined ? {} : { owner: k.owner }),
})
const signWith = (k: typeof K1 | typeof K2 | typeof KM | typeof KX) =>
  createSigner({ keys: [asKey(k)], keyId: k.id })

const redisSettings = (keyPrefix: string) => ({
  url: TEST_REDIS_URL,
  keyPrefix,
  storageCache: false,
  cacheTtlMs: 1_000,
  startWaitMs: 2_000,
})

/** A MindBus command envelope as any client would write it. */
function command(a: number, b: number, extra: Record<string, unknown> = {}) {
  return {
    specversion: '1.0' as const,
    id: randomUUID(),
    source: 'uid-script',
    type: 'core.mindbus.command',
    time: new Date().toISOString(),
    datacontenttype: 'application/json',
    data: { action: 'add', params: { a, b } },
    ...extra,
  }
}

describeWithRedis(
  'signed MindBus messages (RabbitMQ, two hubs sharing the Redis replay store)',
  () => {
    const topology = uniqueTopology()
    const directory = new MemoryDirectory()
    const replayPrefix = freshPrefix()
    const nodes: TestNode[] = []
    const closers: Array<() => Promise<void>> = []
    let raw: Connection
    let replyChannel: Channel | undefined
    const replies = new Map<string, (body: unknown) => void>()
    let publishRaw: (routingKey: string, body: unknown, replyTo?: boolean) => Promise<void>
    const metricsB = createKernel({ logger: silentLogger }).metrics

    /** A hub's MindBus signing options, built exactly as the hub builds them from its config. */
    const hubSigning = (keys: readonly object[], keyId?: string) => {
      const settings = resolveSigningSettings({
        keys: keys as never,
        ...(keyId === undefined ? {} : { keyId }),
      })
      const signing = openHubSigning(settings, redisSettings(replayPrefix), silentLogger)
      if (signing?.mindbus === undefined) throw new Error('no MindBus signing')
      closers.push(() => signing.close())
      return signing.mindbus
    }

    const serve = async (id: string, keys: readonly object[]) => {
      const node = makeNode(id, directory, topology, {
        signing: hubSigning(keys),
        namespaces: ['calc'],
        ...(id === 'b' ? { metrics: metricsB, importEvents: ['sig.#'] } : {}),
      })
      node.services.register('calc.add', (p: { a: number; b: number }) => p.a + p.b, {
        params: { type: 'object' },
      })
      directory.set(id, node.services)
      await node.mindbus.start(node.services)
      nodes.push(node)
      return node
    }
    let a: TestNode
    let b: TestNode
    let c: TestNode

    beforeAll(async () => {
      requireBroker()
      // b and c serve calc.add (two hubs, one Redis replay store); both know k1 and k2 (rotation).
      b = await serve('b', [K1, K2, KM])
      c = await serve('c', [K1, K2, KM])
      a = makeNode('a', directory, topology, { signing: hubSigning([K1, K2], 'k1') })
      await a.mindbus.start(a.services)
      nodes.push(a)
      raw = new Connection({ url: AMQP_URL })
      await raw.onConnect(5_000)
      const ch = await raw.acquire()
      replyChannel = ch
      await ch.basicConsume(
        { queue: 'amq.rabbitmq.reply-to', noAck: true },
        (msg: AsyncMessage) => {
          const done = replies.get(msg.correlationId ?? '')
          done?.(typeof msg.body === 'string' ? JSON.parse(msg.body) : msg.body)
        },
      )
      publishRaw = async (routingKey, body, replyTo = true) => {
        await ch.basicPublish(
          {
            exchange: topology.exchange,
            routingKey,
            contentType: 'application/json',
            userId: USER,
            ...(replyTo
              ? { replyTo: 'amq.rabbitmq.reply-to', correlationId: (body as { id: string }).id }
              : {}),
          },
          body,
        )
      }
    }, 60_000)

    afterAll(async () => {
      for (const n of nodes) await n.mindbus.close()
      await replyChannel?.close()
      await raw?.close()
      for (const close of closers) await close()
      await dropTopology(topology, ['a', 'a2', 'b', 'c', 'd'], ['calc'])
    }, 60_000)

    /** Sends `body` to a node and waits for its result envelope's data. */
    const ask = (node: string, body: { id: string }) =>
      new Promise<{
        ok: boolean
        result?: unknown
        error?: { code: string; details?: { reason?: string } }
      }>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no result for ${body.id}`)), 15_000)
        replies.set(body.id, (reply) => {
          clearTimeout(timer)
          resolve((reply as { data: never }).data)
        })
        publishRaw(`cmd.calc.${node}`, body).catch(reject)
      })

    const refused = (node: TestNode, reason: string) =>
      node.mindbus.stats().signatureRefused[reason] ?? 0

    it('a signed remote call passes end to end, and the result is signed too', async () => {
      await expect(a.services.call('calc.add', { a: 2, b: 3 })).resolves.toBe(5)
      expect(a.mindbus.stats().signatureVerified).toBeGreaterThanOrEqual(1)
    })

    it('refuses tampered data, tampered type, an unknown key, another user’s key, expired and future', async () => {
      const k1 = signWith(K1)
      const servedBefore = b.mindbus.stats().served.ok ?? 0
      const cases: Array<[string, string, { id: string }]> = [
        [
          'bad-signature',
          'E_FORBIDDEN',
          { ...k1.sign(command(1, 1)), data: { action: 'add', params: { a: 1000, b: 1 } } },
        ],
        ['bad-signature', 'E_FORBIDDEN', { ...k1.sign(command(1, 1)), type: 'ai.team.command' }],
        ['unknown-key', 'E_FORBIDDEN', signWith(KX).sign(command(1, 1))],
        ['owner-mismatch', 'E_FORBIDDEN', signWith(KM).sign(command(1, 1))],
        [
          'expired',
          'E_VALIDATION',
          k1.sign(command(1, 1, { time: new Date(Date.now() - 400_000).toISOString() })),
        ],
        [
          'future',
          'E_VALIDATION',
          k1.sign(command(1, 1, { time: new Date(Date.now() + 400_000).toISOString() })),
        ],
        ['unsigned', 'E_FORBIDDEN', command(1, 1)],
      ]
      for (const [reason, code, body] of cases) {
        const before = refused(b, reason)
        const reply = await ask('b', body)
        expect(reply, reason).toMatchObject({ ok: false, error: { code, details: { reason } } })
        expect(refused(b, reason), reason).toBe(before + 1)
      }
      expect(b.mindbus.stats().served.ok ?? 0).toBe(servedBefore)
    })

    it('refuses a command replayed to the same hub and to another hub (Redis replay store)', async () => {
      const valid = signWith(K1).sign(command(20, 22))
      await expect(ask('b', valid)).resolves.toEqual({ ok: true, result: 42 })
      await expect(ask('b', valid)).resolves.toMatchObject({
        ok: false,
        error: { details: { reason: 'replayed' } },
      })
      await expect(ask('c', valid)).resolves.toMatchObject({
        ok: false,
        error: { code: 'E_FORBIDDEN', details: { reason: 'replayed' } },
      })
      expect(refused(b, 'replayed')).toBe(1)
      expect(refused(c, 'replayed')).toBe(1)
    })

    it('a rotated key works across the rotation: old and new accepted while both are listed, old refused once removed', async () => {
      // Step 2 of the rotation: every hub lists k1 and k2; a hub signing with k2 is accepted.
      await expect(ask('b', signWith(K2).sign(command(1, 2)))).resolves.toEqual({
        ok: true,
        result: 3,
      })
      await expect(ask('b', signWith(K1).sign(command(1, 3)))).resolves.toEqual({
        ok: true,
        result: 4,
      })
      const a2 = makeNode('a2', directory, topology, { signing: hubSigning([K1, K2], 'k2') })
      await a2.mindbus.start(a2.services)
      nodes.push(a2)
      await expect(
        a2.services.call('calc.add', { a: 5, b: 5 }, { meta: { route: { node: 'b' } } }),
      ).resolves.toBe(10)
      // Step 4: k1 removed; what k1 signs is refused, k2 still works.
      const d = await serve('d', [K2])
      const before = refused(d, 'unknown-key')
      await expect(ask('d', signWith(K1).sign(command(1, 1)))).resolves.toMatchObject({
        ok: false,
        error: { details: { reason: 'unknown-key' } },
      })
      expect(refused(d, 'unknown-key')).toBe(before + 1)
      await expect(ask('d', signWith(K2).sign(command(2, 2)))).resolves.toEqual({
        ok: true,
        result: 4,
      })
    })

    it('a refused command without reply_to, a forged event and an unsigned control signal go to the dead-letter queue', async () => {
      const dead = async () =>
        (await raw.queueDeclare({ queue: topology.deadLetterQueue, passive: true })).messageCount
      const start = await dead()
      await publishRaw(
        'cmd.calc.b',
        { ...signWith(K1).sign(command(1, 1)), data: { action: 'add', params: { a: 9, b: 9 } } },
        false,
      )
      await expect.poll(dead, { timeout: 10_000 }).toBe(start + 1)
      await publishRaw(
        'ctl.b.stop',
        {
          ...command(0, 0),
          type: 'core.mindbus.control',
          data: { scope: 'stop', target: 'b', data: null },
        },
        false,
      )
      await expect.poll(dead, { timeout: 10_000 }).toBe(start + 2)
      expect(refused(b, 'unsigned')).toBeGreaterThanOrEqual(2)
      expect(b.mindbus.stats().controlReceived).toBe(0)
      const seen: unknown[] = []
      b.bus.subscribe('sig.#', (event) => {
        seen.push(event.data)
      })
      const event = (n: number) => ({ ...command(0, 0), type: 'sig.changed', data: { n } })
      const forged = { ...signWith(K1).sign(event(1)), data: { n: 666 } }
      await publishRaw('evt.sig.changed', forged, false)
      await expect.poll(dead, { timeout: 10_000 }).toBe(start + 3)
      await publishRaw('evt.sig.changed', signWith(K1).sign(event(2)), false)
      await expect.poll(() => seen, { timeout: 10_000 }).toEqual([{ n: 2 }])
    })

    it('counts refusals by reason on the Prometheus registry', async () => {
      const text = await metricsB.metrics()
      expect(text).toMatch(/^core_mindbus_signature_refused_total\{reason="bad-signature"\} [1-9]/m)
      expect(text).toMatch(/^core_mindbus_signature_refused_total\{reason="replayed"\} 1$/m)
      expect(text).toMatch(/^core_mindbus_signature_verified_total [1-9]/m)
    })

    it('RabbitMQ refuses a forged AMQP user_id: the channel is closed with PRECONDITION_FAILED', async () => {
      const ch = await raw.acquire()
      await ch.confirmSelect()
      const forged = ch.basicPublish(
        { exchange: topology.exchange, routingKey: 'cmd.calc.b', userId: 'mallory' },
        signWith(KM).sign(command(1, 1)),
      )
      await expect(forged).rejects.toMatchObject({ code: 'PRECONDITION_FAILED' })
      await expect(forged).rejects.toThrow(
        /user_id property set to 'mallory' but authenticated user was/,
      )
    })
  },
)

describe.skipIf(mosquittoDown)('signed MQTT calls and events of a hub (Mosquitto)', () => {
  let dir: string
  let hub: Awaited<ReturnType<typeof startHub>>
  const prefix = uniquePrefix('sig')
  const verifier = createVerifier({ keys: [asKey(K1)] })

  beforeAll(async () => {
    requireMosquitto()
    dir = await mkdtemp(join(tmpdir(), 'hub-signed-'))
    await stagePlugins(dir)
    const file = await writeHubConfig(dir, {
      pluginDirs: ['./plugins'],
      dataDir: './data',
      http: { port: 0 },
      mqtt: { prefix, calls: ['hello.*'], events: ['hello.#'] },
      signing: { keys: [K1] },
    })
    const env = {
      CORE_ADMIN_TOKEN: randomBytes(32).toString('hex'),
      CORE_MQTT_URL: 'mqtt://127.0.0.1:1883',
    }
    hub = await startHub(await loadHubConfig({ argv: ['--config', file], env }), {
      logger: silentLogger,
    })
    expect(hub.mqtt.bridge?.connected).toBe(true)
  }, 60_000)

  afterAll(async () => {
    await hub?.stop()
    await rm(dir, { recursive: true, force: true })
  }, 60_000)

  const call = (service: string, params: unknown) => ({
    specversion: '1.0' as const,
    id: randomUUID(),
    source: '/devices/thermo-1',
    type: 'core.mqtt.call',
    subject: service,
    time: new Date().toISOString(),
    data: { params, replyTo: `${prefix}-reply/x`, correlationId: 7 },
  })

  it('a signed call needs no token, and the event it causes reaches MQTT signed', async () => {
    const client = await rawClient(4)
    await client.subscribe([`${prefix}-reply/#`, `${prefix}/events/#`], 1)
    try {
      const signed = signWith(K1).sign(call('hello.greet', { name: 'Ada' }))
      await client.publish(`${prefix}/call/hello.greet`, JSON.stringify(signed))
      const reply = await client.next((m) => m.topic === `${prefix}-reply/x`)
      expect(JSON.parse(reply.text)).toMatchObject({
        result: { message: expect.stringContaining('Ada') },
        correlationId: 7,
      })
      const event = await client.next((m) => m.topic === `${prefix}/events/hello/greeted`)
      const envelope = JSON.parse(event.text)
      expect(envelope).toMatchObject({ sigalg: 'hmac-sha256', sigkid: 'k1' })
      await expect(verifier.verify(envelope)).resolves.toMatchObject({ keyId: 'k1' })
    } finally {
      await client.close()
    }
  })

  it('refuses tampered, wrong-service, unknown-key, expired, future and replayed calls, counted by reason', async () => {
    const client = await rawClient(4)
    await client.subscribe(`${prefix}-reply/#`, 1)
    const k1 = signWith(K1)
    const valid = k1.sign(call('hello.greet', { name: 'once' }))
    const cases: Array<[string, object]> = [
      [
        'bad-signature',
        {
          ...k1.sign(call('hello.greet', { name: 'a' })),
          data: { params: { name: 'b' }, replyTo: `${prefix}-reply/x`, correlationId: 7 },
        },
      ],
      ['wrong-service', k1.sign({ ...call('hello.other', {}), subject: 'hello.other' })],
      ['unknown-key', signWith(KX).sign(call('hello.greet', {}))],
      [
        'expired',
        k1.sign({ ...call('hello.greet', {}), time: new Date(Date.now() - 400_000).toISOString() }),
      ],
      [
        'future',
        k1.sign({ ...call('hello.greet', {}), time: new Date(Date.now() + 400_000).toISOString() }),
      ],
    ]
    try {
      await client.publish(`${prefix}/call/hello.greet`, JSON.stringify(valid))
      expect(
        JSON.parse((await client.next((m) => m.topic === `${prefix}-reply/x`)).text).result,
      ).toBeDefined()
      cases.push(['replayed', valid])
      for (const [reason, body] of cases) {
        await client.publish(`${prefix}/call/hello.greet`, JSON.stringify(body))
        const reply = JSON.parse((await client.next((m) => m.topic === `${prefix}-reply/x`)).text)
        expect(reply.error, reason).toMatchObject({ details: { reason } })
        expect(hub.mqtt.bridge?.stats().signatureRefused[reason], reason).toBe(1)
      }
      const metrics = await hub.kernel.metrics.metrics()
      expect(metrics).toMatch(/^core_mqtt_signature_refused_total\{reason="replayed"\} 1$/m)
      // Unsigned and without a token: still refused as before.
      await client.publish(
        `${prefix}/call/hello.greet`,
        JSON.stringify({ params: {}, replyTo: `${prefix}-reply/x` }),
      )
      const unsigned = JSON.parse((await client.next((m) => m.topic === `${prefix}-reply/x`)).text)
      expect(unsigned.error.code).toBe('E_UNAUTHENTICATED')
    } finally {
      await client.close()
    }
  })
})
