import { type CloudEvent, type MqttMessageData, silentLogger } from '@core/contracts'
import { createKernel, type InlinePlugin, type PluginContext } from '@core/kernel'
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import {
  type CreateMqttBridgeOptions,
  createMqttBridge,
  type MqttStatusResult,
} from '../src/index.js'
import { rawClient, requireBroker, skipBroker, uniquePrefix } from './broker.js'
import { boot, cleanups, client, codeOf, runCleanups } from './mqtt-bridge-helpers.js'

afterEach(runCleanups)

describe.skipIf(skipBroker)('MQTT bridge on the real broker', () => {
  beforeAll(requireBroker)

  describe('availability', () => {
    it('publishes "online" retained on connect and "offline" retained on a clean stop', async () => {
      const { bridge, prefix } = await boot()
      const watcher = await client(5, [`${prefix}/status`])
      const online = await watcher.next((m) => m.topic === `${prefix}/status`)
      expect(online.text).toBe('online')
      expect(online.packet.retain).toBe(true)
      await bridge.stop()
      const offline = await watcher.next((m) => m.topic === `${prefix}/status`)
      expect(offline.text).toBe('offline')
      const late = await client(4, [`${prefix}/status`])
      expect((await late.next((m) => m.topic === `${prefix}/status`)).text).toBe('offline')
    })

    it('leaves "offline" as its last will when the link dies, then reconnects and re-subscribes', async () => {
      const clientId = uniquePrefix('bridge')
      const { bridge, prefix, contexts } = await boot({ clientId })
      const alpha = contexts.get('alpha') as PluginContext
      const seen: CloudEvent<MqttMessageData>[] = []
      alpha.events.subscribe<MqttMessageData>(`mqtt.message.${prefix}-in.#`, (e) => {
        seen.push(e)
      })
      await alpha.services.call('mqtt.subscribe', { filter: `${prefix}-in/#` })
      const watcher = await client(5, [`${prefix}/status`])
      await watcher.next((m) => m.text === 'online')
      // Taking over the client id makes the broker drop the bridge's connection uncleanly.
      const usurper = await rawClient(5, { clientId })
      await usurper.close()
      expect((await watcher.next((m) => m.topic === `${prefix}/status`)).text).toBe('offline')
      expect((await watcher.next((m) => m.topic === `${prefix}/status`, 5_000)).text).toBe('online')
      await expect
        .poll(() => bridge.connected && bridge.stats().connects >= 2, { timeout: 3_000 })
        .toBe(true)
      const sender = await client(5)
      await vi.waitFor(
        async () => {
          await sender.publish(`${prefix}-in/after`, 'x')
          expect(seen.length).toBeGreaterThan(0)
        },
        { timeout: 3_000, interval: 10 },
      )
      expect(seen[0]?.data.topic).toBe(`${prefix}-in/after`)
    })

    it('start() rejects with E_UNAVAILABLE when no broker answers, and mqtt.publish is refused', async () => {
      const kernel = createKernel({ logger: silentLogger })
      const bridge = createMqttBridge(kernel, {
        url: 'mqtt://127.0.0.1:1',
        connectTimeoutMs: 300,
        reconnect: { minDelayMs: 100, maxDelayMs: 200 },
        logger: silentLogger,
      })
      cleanups.push(
        () => kernel.stop(),
        () => bridge.stop(),
      )
      await kernel.start()
      const error = await bridge.start().catch((e: unknown) => e)
      expect(codeOf(error)).toBe('E_UNAVAILABLE')
      expect((error as Error).message).toMatch(/127\.0\.0\.1:1/)
      const refused = await kernel.services
        .call('mqtt.publish', { topic: 'a/b', payload: 'x' })
        .catch((e: unknown) => e)
      expect(codeOf(refused)).toBe('E_UNAVAILABLE')
      expect((refused as Error).message).toMatch(/not connected/)
      expect(bridge.stats().dropped).toBe(1)
    })
  })

  describe('mqtt.publish', () => {
    it('sends strings as text and other values as JSON, with qos and retain', async () => {
      const { kernel } = await boot()
      const topic = uniquePrefix('pub')
      const other = await client(5, [`${topic}/#`])
      await kernel.services.call('mqtt.publish', { topic: `${topic}/text`, payload: 'ON' })
      await kernel.services.call('mqtt.publish', {
        topic: `${topic}/json`,
        payload: { state: 'ON', brightness: 200 },
        qos: 1,
      })
      await kernel.services.call('mqtt.publish', {
        topic: `${topic}/kept`,
        payload: 21.5,
        retain: true,
        qos: 1,
      })
      expect((await other.next((m) => m.topic === `${topic}/text`)).text).toBe('ON')
      const json = await other.next((m) => m.topic === `${topic}/json`)
      expect(JSON.parse(json.text)).toEqual({ state: 'ON', brightness: 200 })
      expect(json.packet.qos).toBe(1)
      const late = await client(4, [`${topic}/kept`])
      const kept = await late.next((m) => m.topic === `${topic}/kept`)
      expect(kept.text).toBe('21.5')
      expect(kept.packet.retain).toBe(true)
      // An empty retained payload clears it.
      await kernel.services.call('mqtt.publish', { topic: `${topic}/kept`, retain: true, qos: 1 })
      const later = await client(5, [`${topic}/kept`])
      await expect(later.next((m) => m.topic === `${topic}/kept`, 300)).rejects.toThrow(
        /no matching/,
      )
    })

    it('accepts many QoS 1 messages in flight at once', async () => {
      const { kernel } = await boot()
      const topic = uniquePrefix('burst')
      const other = await client(5, [`${topic}/#`])
      await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          kernel.services.call('mqtt.publish', { topic: `${topic}/n`, payload: i, qos: 1 }),
        ),
      )
      await expect.poll(() => other.messages.length === 200, { timeout: 3_000 }).toBe(true)
    })

    it('refuses wildcards in the topic with E_VALIDATION and the bridge prefix with E_FORBIDDEN', async () => {
      const { kernel, prefix } = await boot()
      for (const topic of ['a/+/b', 'a/#', '#']) {
        const error = await kernel.services
          .call('mqtt.publish', { topic, payload: 1 })
          .catch((e: unknown) => e)
        expect(codeOf(error)).toBe('E_VALIDATION')
      }
      const error = await kernel.services
        .call('mqtt.publish', { topic: `${prefix}/status`, payload: 'offline' })
        .catch((e: unknown) => e)
      expect(codeOf(error)).toBe('E_FORBIDDEN')
    })
  })

  describe('mqtt.subscribe and inbound events', () => {
    it('turns messages under a plugin filter into mqtt.message events with escaped words', async () => {
      const { contexts } = await boot()
      const alpha = contexts.get('alpha') as PluginContext
      const base = uniquePrefix('z2m')
      const seen: CloudEvent<MqttMessageData>[] = []
      alpha.events.subscribe<MqttMessageData>(`mqtt.message.${base}.#`, (e) => {
        seen.push(e)
      })
      const { pattern } = await alpha.services.call<{ pattern: string }>('mqtt.subscribe', {
        filter: `${base}/#`,
      })
      expect(pattern).toBe(`mqtt.message.${base}.#`)
      const sender = await client(4)
      await sender.publish(`${base}/living room/lamp`, '{"state":"ON","brightness":254}')
      await sender.publish(`${base}/living room/lamp/availability`, 'online')
      await sender.publish(`${base}/odd.name`, '{"broken": ')
      await expect.poll(() => seen.length === 3, { timeout: 3_000 }).toBe(true)
      expect(seen[0]?.type).toBe(`mqtt.message.${base}.living%20room.lamp`)
      expect(seen[0]?.subject).toBe(`${base}/living room/lamp`)
      expect(seen[0]?.source).toBe('/mqtt')
      expect(seen[0]?.data).toEqual({
        topic: `${base}/living room/lamp`,
        payload: { state: 'ON', brightness: 254 },
        retain: false,
        qos: 0,
      })
      expect(seen[1]?.data.payload).toBe('online')
      expect(seen[2]?.type).toBe(`mqtt.message.${base}.odd%2Ename`)
      expect(seen[2]?.data.payload).toBe('{"broken": ')
    })

    it('is never sent a packet over maxPacketBytes (MQTT 5 Maximum Packet Size): the broker drops it', async () => {
      const { bridge, contexts } = await boot({ maxPacketBytes: 4_096 })
      const alpha = contexts.get('alpha') as PluginContext
      const base = uniquePrefix('big')
      const seen: CloudEvent<MqttMessageData>[] = []
      alpha.events.subscribe<MqttMessageData>(`mqtt.message.${base}.#`, (e) => {
        seen.push(e)
      })
      await alpha.services.call('mqtt.subscribe', { filter: `${base}/#` })
      const sender = await client(5)
      await sender.publish(`${base}/huge`, 'x'.repeat(64 * 1024))
      await sender.publish(`${base}/small`, 'ok')
      await expect.poll(() => seen.length, { timeout: 3_000 }).toBe(1)
      await new Promise((resolve) => setTimeout(resolve, 200)) // nothing else arrives
      expect(seen.map((e) => e.data.topic)).toEqual([`${base}/small`])
      expect(bridge.stats()).toMatchObject({ connected: true, connects: 1 })
    })

    it('delivers retained messages to each new subscriber, flagged retain', async () => {
      const { contexts } = await boot()
      const base = uniquePrefix('ret')
      const sender = await client(5)
      await sender.publish(`${base}/bridge/devices`, '[{"friendly_name":"lamp"}]', {
        retain: true,
        qos: 1,
      })
      cleanups.push(() => sender.publish(`${base}/bridge/devices`, '', { retain: true, qos: 1 }))
      for (const name of ['alpha', 'beta']) {
        const ctx = contexts.get(name) as PluginContext
        const seen: MqttMessageData[] = []
        ctx.events.subscribe<MqttMessageData>(`mqtt.message.${base}.#`, (e) => {
          seen.push(e.data)
        })
        await ctx.services.call('mqtt.subscribe', { filter: `${base}/+/devices`, qos: 1 })
        await expect.poll(() => seen.length > 0, { timeout: 3_000 }).toBe(true)
        expect(seen[0]).toMatchObject({ retain: true, payload: [{ friendly_name: 'lamp' }] })
      }
    })

    it('holds filters per plugin and releases them on unsubscribe and on unload', async () => {
      const { kernel, contexts, bridge } = await boot()
      const base = uniquePrefix('hold')
      const alpha = contexts.get('alpha') as PluginContext
      const beta = contexts.get('beta') as PluginContext
      await alpha.services.call('mqtt.subscribe', { filter: `${base}/#` })
      await beta.services.call('mqtt.subscribe', { filter: `${base}/#` })
      await beta.services.call('mqtt.subscribe', { filter: `${base}/b/+` })
      let status = await kernel.services.call<MqttStatusResult>('mqtt.status', {})
      expect(status.subscriptions).toEqual([
        { filter: `${base}/#`, callers: ['alpha', 'beta'] },
        { filter: `${base}/b/+`, callers: ['beta'] },
      ])
      expect(await alpha.services.call('mqtt.unsubscribe', { filter: `${base}/#` })).toEqual({
        released: true,
      })
      expect(await alpha.services.call('mqtt.unsubscribe', { filter: `${base}/#` })).toEqual({
        released: false,
      })
      await kernel.plugins.unload('beta')
      await vi.waitFor(
        async () => {
          status = await kernel.services.call<MqttStatusResult>('mqtt.status', {})
          expect(status.subscriptions).toHaveLength(0)
        },
        { timeout: 3_000, interval: 10 },
      )
      // Nothing is delivered any more.
      const before = bridge.stats().received
      const sender = await client(5)
      await sender.publish(`${base}/x`, 'late', { qos: 1 })
      const probe = await client(5, [`${base}/#`])
      await sender.publish(`${base}/y`, 'probe', { qos: 1 })
      await probe.next((m) => m.topic === `${base}/y`)
      expect(bridge.stats().received).toBe(before)
    })

    it('keeps the filters of a plugin that reloads and declares them again', async () => {
      const base = uniquePrefix('reload')
      const subscriber: InlinePlugin = {
        manifest: {
          name: 'gamma',
          coreApi: '^1.0.0',
          permissions: {
            services: { call: ['mqtt.*'] },
            events: { subscribe: ['mqtt.message.#'] },
          },
        },
        plugin: {
          async setup(ctx: PluginContext) {
            await ctx.services.call('mqtt.subscribe', { filter: `${base}/#` })
          },
        },
      }
      const { kernel } = await boot({}, [subscriber])
      await kernel.plugins.reload('gamma')
      await new Promise((r) => setTimeout(r, 50))
      const status = await kernel.services.call<MqttStatusResult>('mqtt.status', {})
      expect(status.subscriptions).toEqual([{ filter: `${base}/#`, callers: ['gamma'] }])
    })

    it('refuses malformed filters with E_VALIDATION', async () => {
      const { contexts } = await boot()
      const alpha = contexts.get('alpha') as PluginContext
      for (const filter of ['a/#/b', 'a+', '']) {
        const error = await alpha.services
          .call('mqtt.subscribe', { filter })
          .catch((e: unknown) => e)
        expect(codeOf(error)).toBe('E_VALIDATION')
      }
    })
  })
})

describe('createMqttBridge options', () => {
  it('refuses malformed options with E_VALIDATION', () => {
    const kernel = createKernel({ logger: silentLogger })
    const bad: CreateMqttBridgeOptions[] = [
      { url: 'not a url' },
      { url: 'http://127.0.0.1' },
      { prefix: 'a/#' },
      { prefix: '/core' },
      { prefix: '' },
      { events: ['a..b'] },
      { state: ['a.b!'] },
      { calls: ['x..y'] },
      { calls: true },
      { calls: ['echo.*'], trustBroker: true, authorizeCall: async () => ({ caller: 'x' }) },
      { maxInFlight: 0 },
      { maxPacketBytes: 512 },
      { maxPacketBytes: 268_435_456 },
      { reconnect: { minDelayMs: 0 } },
      { reconnect: { minDelayMs: 100, maxDelayMs: 10 } },
      { protocolVersion: 3 as 4 },
    ]
    for (const options of bad) {
      let error: unknown
      try {
        createMqttBridge(kernel, options)
      } catch (e) {
        error = e
      }
      expect(codeOf(error), JSON.stringify(options)).toBe('E_VALIDATION')
    }
  })

  it('refuses a second bridge on the same kernel with E_CONFLICT and leaves the first intact', async () => {
    const kernel = createKernel({ logger: silentLogger })
    const first = createMqttBridge(kernel, { logger: silentLogger })
    let error: unknown
    try {
      createMqttBridge(kernel, { logger: silentLogger })
    } catch (e) {
      error = e
    }
    expect(codeOf(error)).toBe('E_CONFLICT')
    expect(kernel.services.has('mqtt.publish')).toBe(true)
    await first.stop()
    expect(kernel.services.has('mqtt.publish')).toBe(false)
  })

  it('never shows credentials in its url', () => {
    const kernel = createKernel({ logger: silentLogger })
    const bridge = createMqttBridge(kernel, { url: 'mqtt://user:secret@127.0.0.1:1883' })
    expect(bridge.url).not.toMatch(/secret/)
    expect(bridge.prefix).toBe('core')
    expect(bridge.clientId).toMatch(/^core-core-[0-9a-f]{8}$/)
    expect(bridge.callMode).toBe('off')
  })
})
