import { CoreError, silentLogger } from '@core/contracts'
import { createKernel, type InlinePlugin, type Kernel, type PluginContext } from '@core/kernel'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  type AuthorizeMqttCall,
  type CreateMqttBridgeOptions,
  createMqttBridge,
  type MqttBridge,
} from '../../src/index.js'
import {
  BROKER_URL,
  capturingLogger,
  type RawClient,
  rawClient,
  requireBroker,
  skipBroker,
  uniquePrefix,
} from '../broker.js'

// Issue 8 §2: with calls on by default and an anonymous broker, any client called every
// service. Calls are now off by default; when on, each carries a bearer token checked by
// `authorizeCall`, unless the operator trusts the broker explicitly.

const echo: InlinePlugin = {
  manifest: { name: 'echo', coreApi: '^1.0.0' },
  plugin: {
    setup(ctx: PluginContext) {
      ctx.services.register(
        'echo.say',
        (params: { text: string }, call) => ({
          text: params.text,
          caller: call.meta.caller,
          token: call.meta.token ?? null,
        }),
        { params: { type: 'object', properties: { text: { type: 'string' } } } },
      )
    },
  },
}

/** Tokens of the test: `good` may call echo.*, `narrow` only other.*. */
const authorizeCall: AuthorizeMqttCall = async (token, service) => {
  const scopes: Record<string, string> = { good: 'echo.', narrow: 'other.' }
  if (token === undefined) throw new CoreError('E_UNAUTHENTICATED', 'No bearer token')
  const scope = scopes[token]
  if (scope === undefined) throw new CoreError('E_UNAUTHENTICATED', 'Unknown bearer token')
  if (!service.startsWith(scope)) throw new CoreError('E_FORBIDDEN', `May not call ${service}`)
  return { caller: 'mqtt', tokenId: `id-${token}` }
}

const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined)
})

async function boot(options: CreateMqttBridgeOptions): Promise<{
  kernel: Kernel
  bridge: MqttBridge
  prefix: string
  caller: RawClient
  v4: RawClient
}> {
  const kernel = createKernel({ logger: silentLogger, plugins: [echo], required: ['echo'] })
  const prefix = uniquePrefix('core')
  const bridge = createMqttBridge(kernel, {
    url: BROKER_URL,
    logger: silentLogger,
    reconnect: { minDelayMs: 50, maxDelayMs: 500 },
    ...options,
    prefix,
  })
  await kernel.start()
  await bridge.start()
  const caller = await rawClient(5)
  const v4 = await rawClient(4)
  cleanups.push(
    () => kernel.stop(),
    () => bridge.stop(),
    () => caller.close(),
    () => v4.close(),
  )
  await caller.subscribe(`${prefix}-reply/#`, 1)
  await v4.subscribe(`${prefix}-reply/#`, 1)
  return { kernel, bridge, prefix, caller, v4 }
}

let sequence = 0
/** An MQTT 5 call with an optional `authorization` user property; resolves with the reply. */
async function call5(
  setup: { prefix: string; caller: RawClient },
  service: string,
  authorization?: string,
): Promise<{ result?: Record<string, unknown>; error?: { code: string; message: string } }> {
  const id = `r${++sequence}`
  await setup.caller.publish(`${setup.prefix}/call/${service}`, '{"text":"hi"}', {
    qos: 1,
    properties: {
      responseTopic: `${setup.prefix}-reply/${id}`,
      correlationData: Buffer.from(id),
      ...(authorization === undefined ? {} : { userProperties: { authorization } }),
    },
  })
  const reply = await setup.caller.next((m) => m.topic === `${setup.prefix}-reply/${id}`)
  expect(reply.packet.properties?.correlationData?.toString()).toBe(id)
  return JSON.parse(reply.text)
}

describe.skipIf(skipBroker)(
  'issue 8: MQTT calls need a token or an explicitly trusted broker',
  () => {
    beforeAll(() => requireBroker())

    it('refuses a call without a token with E_UNAUTHENTICATED on the response topic', async () => {
      const setup = await boot({ calls: true, authorizeCall })
      expect(setup.bridge.callMode).toBe('token')
      const reply = await call5(setup, 'echo.say')
      expect(reply.error).toMatchObject({ code: 'E_UNAUTHENTICATED', message: /No bearer token/ })
      expect((await call5(setup, 'echo.say', 'Bearer nobody')).error?.code).toBe(
        'E_UNAUTHENTICATED',
      )
      const malformed = await call5(setup, 'echo.say', 'Basic Z29vZA==')
      expect(malformed.error).toMatchObject({
        code: 'E_UNAUTHENTICATED',
        message: /Bearer <token>/,
      })
    })

    it('serves a call with a valid token, passing the caller and token id on', async () => {
      const setup = await boot({ calls: true, authorizeCall })
      expect(await call5(setup, 'echo.say', 'Bearer good')).toEqual({
        result: { text: 'hi', caller: 'mqtt', token: 'id-good' },
      })
    })

    it('refuses a token whose scope does not cover the service with E_FORBIDDEN', async () => {
      const setup = await boot({ calls: true, authorizeCall })
      expect((await call5(setup, 'echo.say', 'Bearer narrow')).error?.code).toBe('E_FORBIDDEN')
    })

    it('reads the token from the JSON body of MQTT 3.1.1 calls', async () => {
      const setup = await boot({ calls: true, authorizeCall })
      const ask = async (authorization: string | undefined, id: string) => {
        await setup.v4.publish(
          `${setup.prefix}/call/echo.say`,
          JSON.stringify({
            params: { text: 'v4' },
            replyTo: `${setup.prefix}-reply/${id}`,
            correlationId: id,
            ...(authorization === undefined ? {} : { authorization }),
          }),
          { qos: 1 },
        )
        return JSON.parse(
          (await setup.v4.next((m) => m.topic === `${setup.prefix}-reply/${id}`)).text,
        )
      }
      expect(await ask(undefined, 'a')).toMatchObject({
        correlationId: 'a',
        error: { code: 'E_UNAUTHENTICATED' },
      })
      expect(await ask('Bearer good', 'b')).toMatchObject({
        correlationId: 'b',
        result: { text: 'v4', token: 'id-good' },
      })
    })

    it('lets every call through when the broker is trusted explicitly', async () => {
      const setup = await boot({ calls: true, trustBroker: true })
      expect(setup.bridge.callMode).toBe('trust-broker')
      expect(await call5(setup, 'echo.say')).toEqual({
        result: { text: 'hi', caller: 'mqtt', token: null },
      })
    })

    it('serves no calls by default', async () => {
      const setup = await boot({})
      expect(setup.bridge.callMode).toBe('off')
      const probes: unknown[] = []
      setup.kernel.bus.subscribe(`mqtt.message.${setup.prefix}-probe.#`, (event) => {
        probes.push(event.data)
      })
      await setup.kernel.services.call('mqtt.subscribe', {
        filter: `${setup.prefix}-probe/#`,
        qos: 1,
      })
      await setup.caller.publish(`${setup.prefix}/call/echo.say`, '{"text":"hi"}', {
        qos: 1,
        properties: { responseTopic: `${setup.prefix}-reply/off` },
      })
      // Same client, same QoS: the broker delivers in order, so once the probe is in, the call
      // would have been too.
      await setup.caller.publish(`${setup.prefix}-probe/after`, '1', { qos: 1 })
      await expect.poll(() => probes.length === 1, { timeout: 3_000 }).toBe(true)
      expect(setup.bridge.stats()).toMatchObject({ received: 1, calls: 0 })
      expect(setup.caller.messages.some((m) => m.topic === `${setup.prefix}-reply/off`)).toBe(false)
    })

    it('writes a bounded number of log lines for 10,000 calls to a missing service', async () => {
      const logger = capturingLogger()
      const setup = await boot({ calls: true, trustBroker: true, logger })
      const total = 10_000
      for (let sent = 0; sent < total; sent += 500) {
        await Promise.all(
          Array.from({ length: 500 }, () =>
            setup.v4.publish(`${setup.prefix}/call/nope.missing`, '{}', { qos: 1 }),
          ),
        )
      }
      await expect
        .poll(() => setup.bridge.stats().callErrors === total, { timeout: 30_000 })
        .toBe(true)
      const warnings = logger.lines.filter((l) => l.level === 'warn' || l.level === 'error')
      expect(warnings.length).toBeLessThanOrEqual(10)
      expect(warnings[0]?.msg).toMatch(/nope\.missing/)
      expect(setup.bridge.stats().logsSuppressed).toBe(total - warnings.length)
      await setup.bridge.stop()
      // On stop the pending summary is written: one line for the 9,990 others.
      const summary = logger.lines.at(-1)
      expect(summary?.obj).toMatchObject({ suppressed: total - warnings.length })
    }, 60_000)
  },
)
