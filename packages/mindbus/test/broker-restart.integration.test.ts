import { CoreError } from '@core/contracts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { IN_CI, MemoryDirectory, makeNode, type TestNode, uniqueTopology } from './helpers.js'
import { canStartBroker, type PrivateBroker, startPrivateBroker } from './private-broker.js'

const PORT = Number(process.env.CORE_MINDBUS_PRIVATE_PORT ?? 5674)
const skip = !canStartBroker && !IN_CI
if (skip)
  console.warn(
    'rabbitmq-server is not installed: skipping the MindBus broker-restart test (apt-get install rabbitmq-server)',
  )

describe.skipIf(skip)('MindBus across a restart of a private RabbitMQ node', () => {
  let broker: PrivateBroker | undefined
  let a: TestNode
  let b: TestNode
  const directory = new MemoryDirectory()

  beforeAll(async () => {
    broker = await startPrivateBroker(PORT)
    const topology = uniqueTopology()
    a = makeNode('a', directory, topology, { url: broker.url })
    b = makeNode('b', directory, topology, { url: broker.url })
    b.services.register(
      'calc.slow_add',
      async ({ x, y }: { x: number; y: number }, ctx) => {
        await new Promise((resolve) => {
          const t = setTimeout(resolve, 300)
          ctx.signal.addEventListener('abort', () => clearTimeout(t))
        })
        return x + y
      },
      { params: {} },
    )
    directory.set('a', a.services)
    directory.set('b', b.services)
    await b.mindbus.start(b.services)
    await a.mindbus.start(a.services)
  }, 200_000)

  afterAll(async () => {
    await Promise.allSettled([a?.mindbus.close(), b?.mindbus.close()])
    await broker?.stop()
  }, 120_000)

  it('settles every in-flight call, fails fast while down, and serves again after the restart', async () => {
    expect(await a.services.call('calc.slow_add', { x: 1, y: 2 })).toBe(3)
    const inFlight = Array.from({ length: 200 }, (_, i) =>
      a.services.call('calc.slow_add', { x: i, y: 1 }, { timeoutMs: 20_000 }).then(
        (value) => ({ ok: true as const, value }),
        (error: unknown) => ({
          ok: false as const,
          code: CoreError.is(error) ? error.code : 'not a CoreError',
        }),
      ),
    )
    await (broker as PrivateBroker).stopApp()
    const settled = await Promise.all(inFlight)
    for (const s of settled) {
      if (!s.ok) expect(['E_UNAVAILABLE', 'E_TIMEOUT']).toContain(s.code)
    }
    await expect.poll(() => a.mindbus.health(), { timeout: 10_000 }).toBe('degraded')
    // While the broker is down a call fails at once with E_UNAVAILABLE, not at its deadline.
    const down = await a.services
      .call('calc.slow_add', { x: 1, y: 1 }, { timeoutMs: 60_000 })
      .catch((e: unknown) => e)
    expect(CoreError.is(down, 'E_UNAVAILABLE')).toBe(true)
    expect(a.mindbus.stats().sent.E_UNAVAILABLE).toBeGreaterThanOrEqual(1)

    await (broker as PrivateBroker).startApp()
    await expect.poll(() => a.mindbus.health(), { timeout: 30_000 }).toBe('healthy')
    await expect
      .poll(
        () =>
          a.services
            .call('calc.slow_add', { x: 20, y: 22 }, { timeoutMs: 5_000 })
            .catch((e: unknown) => e),
        { timeout: 30_000, interval: 500 },
      )
      .toBe(42)
    expect(a.mindbus.stats().reconnects).toBeGreaterThanOrEqual(1)
    expect(b.mindbus.stats().reconnects).toBeGreaterThanOrEqual(1)
  }, 180_000)
})
