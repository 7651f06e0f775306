import { type CloudEvent, CoreError, type MqttMessageData, silentLogger } from '@core/contracts'
import { createKernel, type InlinePlugin, type Kernel, type PluginContext } from '@core/kernel'
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import {
  type CreateMqttBridgeOptions,
  createMqttBridge,
  type MqttBridge,
  type MqttStatusResult,
} from '../src/index.js'
import {
  BROKER_URL,
  capturingLogger,
  type RawClient,
  rawClient,
  requireBroker,
  skipBroker,
  uniquePrefix,
} from './broker.js'

/** A plugin that may use the bridge's services and events; its ctx is handed out. */
function listener(name: string, contexts: Map<string, PluginContext>): InlinePlugin {
  return {
    manifest: {
      name,
      coreApi: '^1.0.0',
      permissions: {
        services: { call: ['mqtt.*'] },
        events: { subscribe: ['mqtt.message.#'] },
      },
    },
    plugin: {
      setup(ctx: PluginContext) {
        contexts.set(name, ctx)
      },
    },
  }
}

interface Setup {
  kernel: Kernel
  bridge: MqttBridge
  prefix: string
  contexts: Map<string, PluginContext>
}

const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined)
})

async function boot(
  options: CreateMqttBridgeOptions = {},
  plugins: InlinePlugin[] = [],
): Promise<Setup> {
  const contexts = new Map<string, PluginContext>()
  const kernel = createKernel({
    logger: silentLogger,
    plugins: [listener('alpha', contexts), listener('beta', contexts), ...plugins],
  })
  const prefix = options.prefix ?? uniquePrefix('core')
  const bridge = createMqttBridge(kernel, {
    url: BROKER_URL,
    logger: silentLogger,
    reconnect: { minDelayMs: 50, maxDelayMs: 500 },
    ...options,
    prefix,
  })
  await kernel.start()
  await bridge.start()
  cleanups.push(
    () => kernel.stop(),
    () => bridge.stop(),
  )
  return { kernel, bridge, prefix, contexts }
}

async function client(version: 4 | 5, filters: string[] = []): Promise<RawClient> {
  const c = await rawClient(version)
  cleanups.push(() => c.close())
  if (filters.length > 0) await c.subscribe(filters, 1)
  return c
}

function codeOf(error: unknown): string {
  return CoreError.is(error) ? error.code : String(error)
}

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

  describe('the kernel on MQTT', () => {
    it('forwards chosen bus events as JSON CloudEvents to <prefix>/events/<levels>', async () => {
      const prefix = uniquePrefix('core')
      const watcher = await client(5, [`${prefix}/events/#`])
      const { kernel } = await boot({ prefix, events: ['devices.#', 'devices.light.#'] })
      await kernel.bus.publish('devices.light.kitchen.changed', { on: true })
      await kernel.bus.publish('other.thing', { ignored: true })
      await kernel.bus.publish('devices.living%20room.changed', { on: false })
      const first = await watcher.next(() => true)
      expect(first.topic).toBe(`${prefix}/events/devices/light/kitchen/changed`)
      const event = JSON.parse(first.text) as CloudEvent
      expect(event).toMatchObject({
        specversion: '1.0',
        type: 'devices.light.kitchen.changed',
        data: { on: true },
      })
      const second = await watcher.next(() => true)
      expect(second.topic).toBe(`${prefix}/events/devices/living room/changed`)
      // Overlapping patterns forward an event once.
      expect(watcher.messages).toHaveLength(2)
    })

    it('mirrors state as retained StateEntry JSON and clears deleted keys', async () => {
      const { kernel, prefix } = await boot({ state: ['lights.#'] })
      const watcher = await client(5, [`${prefix}/state/#`])
      const entry = await kernel.state.set('lights', 'kitchen.main', { on: true })
      await kernel.state.set('other', 'x', 1)
      const msg = await watcher.next(() => true)
      expect(msg.topic).toBe(`${prefix}/state/lights/kitchen/main`)
      expect(msg.packet.retain).toBe(false) // live delivery to an existing subscriber
      expect(JSON.parse(msg.text)).toEqual({
        value: { on: true },
        revision: entry.revision,
        updatedAt: entry.updatedAt,
      })
      const late = await client(4, [`${prefix}/state/#`])
      const retained = await late.next(() => true)
      expect(retained.packet.retain).toBe(true)
      expect(JSON.parse(retained.text).value).toEqual({ on: true })
      await kernel.state.delete('lights', 'kitchen.main')
      const cleared = await watcher.next(() => true)
      expect(cleared.topic).toBe(`${prefix}/state/lights/kitchen/main`)
      expect(cleared.payload.length).toBe(0)
      const after = await client(5, [`${prefix}/state/#`])
      await expect(after.next(() => true, 300)).rejects.toThrow(/no matching/)
      expect(watcher.messages.some((m) => m.topic.includes('/state/other/'))).toBe(false)
    })

    it('mirrors each set from its change event, TTL included, without reading the key back', async () => {
      const { kernel, prefix } = await boot({ state: ['lights.#'] })
      const watcher = await client(5, [`${prefix}/state/#`])
      const get = vi.spyOn(kernel.state, 'get')
      const first = await kernel.state.set('lights', 'hall', { on: true }, { ttlMs: 60_000 })
      const second = await kernel.state.set('lights', 'hall', { on: false })
      const messages = [await watcher.next(() => true), await watcher.next(() => true)]
      expect(messages.map((m) => JSON.parse(m.text))).toEqual([
        {
          value: { on: true },
          revision: first.revision,
          updatedAt: first.updatedAt,
          expiresAt: first.expiresAt,
        },
        { value: { on: false }, revision: second.revision, updatedAt: second.updatedAt },
      ])
      expect(get).not.toHaveBeenCalled()
      get.mockRestore()
    })

    it('publishes the state that existed before it connected', async () => {
      const contexts = new Map<string, PluginContext>()
      const kernel = createKernel({ logger: silentLogger, plugins: [listener('alpha', contexts)] })
      cleanups.push(() => kernel.stop())
      await kernel.start()
      await kernel.state.set('alpha', 'living%20room.lamp', { on: true })
      const prefix = uniquePrefix('core')
      const bridge = createMqttBridge(kernel, { url: BROKER_URL, prefix, logger: silentLogger })
      cleanups.push(() => bridge.stop())
      await bridge.start()
      const watcher = await client(5, [`${prefix}/state/#`])
      const msg = await watcher.next(() => true)
      expect(msg.topic).toBe(`${prefix}/state/alpha/living room/lamp`)
      expect(JSON.parse(msg.text).value).toEqual({ on: true })
      await bridge.stop()
      await rawClient(5).then(async (c) => {
        await c.publish(msg.topic, '', { retain: true, qos: 1 })
        await c.close()
      })
    })

    /** Calls on, no token: the broker is trusted (the token checks have their own test file). */
    const TRUSTED: CreateMqttBridgeOptions = { calls: true, trustBroker: true }

    const echo: InlinePlugin = {
      manifest: { name: 'echo', coreApi: '^1.0.0' },
      plugin: {
        setup(ctx: PluginContext) {
          ctx.services.register(
            'echo.say',
            (params: { text: string }, call) => ({
              text: params.text,
              transport: call.meta.transport,
            }),
            {
              params: {
                type: 'object',
                properties: { text: { type: 'string', minLength: 1 } },
                required: ['text'],
              },
            },
          )
          ctx.services.register('echo.nothing', () => undefined, { params: {} })
        },
      },
    }

    it('answers MQTT 5 calls on the response topic with the correlation data', async () => {
      const { prefix, bridge } = await boot(TRUSTED, [echo])
      const caller = await client(5, [`${prefix}-reply/#`])
      const correlationData = Buffer.from('req-1')
      await caller.publish(`${prefix}/call/echo.say`, '{"text":"hi"}', {
        properties: { responseTopic: `${prefix}-reply/a`, correlationData },
      })
      const reply = await caller.next((m) => m.topic === `${prefix}-reply/a`)
      expect(JSON.parse(reply.text)).toEqual({ result: { text: 'hi', transport: 'mqtt' } })
      expect(reply.packet.properties?.correlationData?.toString()).toBe('req-1')
      expect(reply.packet.retain).toBe(false)
      await caller.publish(`${prefix}/call/echo.nothing`, '', {
        properties: { responseTopic: `${prefix}-reply/b` },
      })
      expect(JSON.parse((await caller.next((m) => m.topic === `${prefix}-reply/b`)).text)).toEqual({
        result: null,
      })
      expect(bridge.stats().calls).toBe(2)
    })

    it('answers MQTT 3.1.1 calls on replyTo with the correlationId in the body', async () => {
      const { prefix } = await boot(TRUSTED, [echo])
      const caller = await client(4, [`${prefix}-reply/#`])
      await caller.publish(
        `${prefix}/call/echo.say`,
        JSON.stringify({ params: { text: 'old' }, replyTo: `${prefix}-reply/x`, correlationId: 7 }),
      )
      const reply = await caller.next((m) => m.topic === `${prefix}-reply/x`)
      expect(JSON.parse(reply.text)).toEqual({
        result: { text: 'old', transport: 'mqtt' },
        correlationId: 7,
      })
    })

    it('replies with a CoreError for unknown services, bad params and non-JSON payloads', async () => {
      const { prefix, bridge } = await boot(TRUSTED, [echo])
      const v5 = await client(5, [`${prefix}-reply/#`])
      const ask = async (service: string, payload: string, id: string) => {
        await v5.publish(`${prefix}/call/${service}`, payload, {
          properties: { responseTopic: `${prefix}-reply/${id}`, correlationData: Buffer.from(id) },
        })
        return JSON.parse((await v5.next((m) => m.topic === `${prefix}-reply/${id}`)).text) as {
          error: { code: string; message: string }
        }
      }
      const unknown = await ask('nope.missing', '{}', '1')
      expect(unknown.error.code).toBe('E_SERVICE_NOT_FOUND')
      expect(unknown.error.message).toMatch(/nope\.missing/)
      expect((await ask('echo.say', '{"text":""}', '2')).error.code).toBe('E_VALIDATION')
      const notJson = await ask('echo.say', 'hello?', '3')
      expect(notJson.error.code).toBe('E_VALIDATION')
      expect(notJson.error.message).toMatch(/not JSON/)
      expect((await ask('Bad_Name', '{}', '4')).error.code).toBe('E_VALIDATION')

      const v4 = await client(4, [`${prefix}-reply/#`])
      await v4.publish(
        `${prefix}/call/nope.missing`,
        JSON.stringify({ replyTo: `${prefix}-reply/v4`, correlationId: 'c' }),
      )
      const reply = JSON.parse((await v4.next((m) => m.topic === `${prefix}-reply/v4`)).text)
      expect(reply).toMatchObject({ correlationId: 'c', error: { code: 'E_SERVICE_NOT_FOUND' } })
      expect(bridge.stats().callErrors).toBeGreaterThanOrEqual(5)
    })

    it('logs and counts non-JSON call bodies from 3.1.1 clients and keeps serving', async () => {
      const logger = capturingLogger()
      const { prefix, bridge } = await boot({ ...TRUSTED, logger }, [echo])
      const v4 = await client(4, [`${prefix}-reply/#`])
      await v4.publish(`${prefix}/call/echo.say`, 'not json at all')
      await v4.publish(`${prefix}/call/echo.say`, '[1,2]')
      await v4.publish(
        `${prefix}/call/echo.say`,
        JSON.stringify({ params: { text: 'x' }, replyTo: `${prefix}-reply/+` }),
      )
      await expect.poll(() => bridge.stats().rejected === 3, { timeout: 3_000 }).toBe(true)
      const warnings = logger.lines.filter((l) => l.level === 'warn').map((l) => l.msg)
      expect(warnings.some((m) => /not JSON/.test(m))).toBe(true)
      expect(warnings.some((m) => /reply topic/.test(m))).toBe(true)
      await v4.publish(
        `${prefix}/call/echo.say`,
        JSON.stringify({ params: { text: 'still here' }, replyTo: `${prefix}-reply/ok` }),
      )
      const reply = await v4.next((m) => m.topic === `${prefix}-reply/ok`)
      expect(JSON.parse(reply.text).result.text).toBe('still here')
    })

    it('refuses services outside the calls list with E_FORBIDDEN', async () => {
      const { prefix } = await boot({ calls: ['mqtt.status'], trustBroker: true }, [echo])
      const v5 = await client(5, [`${prefix}-reply/#`])
      await v5.publish(`${prefix}/call/echo.say`, '{"text":"x"}', {
        properties: { responseTopic: `${prefix}-reply/f` },
      })
      const reply = JSON.parse((await v5.next((m) => m.topic === `${prefix}-reply/f`)).text)
      expect(reply.error.code).toBe('E_FORBIDDEN')
      await v5.publish(`${prefix}/call/mqtt.status`, '', {
        properties: { responseTopic: `${prefix}-reply/s` },
      })
      const status = JSON.parse((await v5.next((m) => m.topic === `${prefix}-reply/s`)).text)
      expect(status.result.prefix).toBe(prefix)
    })

    it('works as an MQTT 3.1.1 client itself', async () => {
      const { prefix, contexts } = await boot({ ...TRUSTED, protocolVersion: 4 }, [echo])
      const alpha = contexts.get('alpha') as PluginContext
      const base = uniquePrefix('v4')
      const seen: MqttMessageData[] = []
      alpha.events.subscribe<MqttMessageData>(`mqtt.message.${base}.#`, (e) => {
        seen.push(e.data)
      })
      await alpha.services.call('mqtt.subscribe', { filter: `${base}/+` })
      const other = await client(5, [`${prefix}-reply/#`])
      await other.publish(`${base}/a`, '{"n":1}')
      await expect.poll(() => seen.length === 1, { timeout: 3_000 }).toBe(true)
      expect(seen[0]?.payload).toEqual({ n: 1 })
      await other.publish(
        `${prefix}/call/echo.say`,
        JSON.stringify({ params: { text: 'v4' }, replyTo: `${prefix}-reply/v4`, correlationId: 1 }),
      )
      const reply = await other.next((m) => m.topic === `${prefix}-reply/v4`)
      expect(JSON.parse(reply.text)).toMatchObject({ correlationId: 1, result: { text: 'v4' } })
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
