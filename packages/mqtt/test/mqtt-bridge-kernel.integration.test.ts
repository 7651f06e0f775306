import { type CloudEvent, type MqttMessageData, silentLogger } from '@core/contracts'
import { createKernel, type InlinePlugin, type PluginContext } from '@core/kernel'
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { type CreateMqttBridgeOptions, createMqttBridge } from '../src/index.js'
import {
  BROKER_URL,
  capturingLogger,
  rawClient,
  requireBroker,
  skipBroker,
  uniquePrefix,
} from './broker.js'
import { boot, cleanups, client, listener, runCleanups } from './mqtt-bridge-helpers.js'

afterEach(runCleanups)

describe.skipIf(skipBroker)('MQTT bridge on the real broker', () => {
  beforeAll(requireBroker)

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
