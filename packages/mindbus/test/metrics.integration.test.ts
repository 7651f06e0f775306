import { spawn, spawnSync } from 'node:child_process'
import { CoreError } from '@core/contracts'
import { Registry } from 'prom-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  dropTopology,
  IN_CI,
  MemoryDirectory,
  makeNode,
  requireBroker,
  skipBroker,
  type TestNode,
  uniqueTopology,
} from './helpers.js'

const HAVE_PROMTOOL = spawnSync('promtool', ['--version'], { stdio: 'ignore' }).status === 0
if (!HAVE_PROMTOOL && !IN_CI) {
  console.warn(
    '[@core/mindbus] promtool not found: the `promtool check metrics` test is skipped. Install it with `apt-get install -y prometheus`.',
  )
}

/** One sample's value from the text exposition format, or undefined when absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

describe.skipIf(skipBroker)('MindBus Prometheus metrics on a real RabbitMQ', () => {
  const topology = uniqueTopology()
  const directory = new MemoryDirectory()
  const callerRegistry = new Registry()
  const serverRegistry = new Registry()
  let a: TestNode
  let b: TestNode

  beforeAll(async () => {
    requireBroker()
    a = makeNode('a', directory, topology, { metrics: callerRegistry })
    b = makeNode('b', directory, topology)
    b.mindbus.registerMetrics(serverRegistry)
    b.mindbus.registerMetrics(serverRegistry) // again: no duplicate registration error
    b.services.register('calc.add', ({ x, y }: { x: number; y: number }) => x + y, { params: {} })
    b.services.register(
      'calc.fail',
      () => {
        throw new CoreError('E_CONFLICT', 'calc.fail always refuses')
      },
      { params: {} },
    )
    directory.set('a', a.services)
    directory.set('b', b.services)
    await Promise.all([a.mindbus.start(a.services), b.mindbus.start(b.services)])
  })

  afterAll(async () => {
    await Promise.allSettled([a?.mindbus.close(), b?.mindbus.close()])
    await dropTopology(topology, ['a', 'b'], ['calc'])
  })

  it('counts calls sent and served by outcome, times round trips and reads queue depths when scraped', async () => {
    for (let i = 0; i < 3; i++)
      expect(await a.services.call('calc.add', { x: i, y: 1 })).toBe(i + 1)
    const refused = await a.services.call('calc.fail', {}).catch((e: unknown) => e)
    expect(CoreError.is(refused, 'E_CONFLICT')).toBe(true)

    const caller = await callerRegistry.metrics()
    expect(sample(caller, 'core_mindbus_calls_sent_total{outcome="ok"}')).toBe(3)
    expect(sample(caller, 'core_mindbus_calls_sent_total{outcome="E_CONFLICT"}')).toBe(1)
    expect(sample(caller, 'core_mindbus_call_duration_seconds_count')).toBe(4)
    expect(sample(caller, 'core_mindbus_call_duration_seconds_sum')).toBeGreaterThan(0)
    expect(sample(caller, 'core_mindbus_connected')).toBe(1)
    expect(sample(caller, 'core_mindbus_reconnects_total')).toBe(0)

    const server = await serverRegistry.metrics()
    expect(sample(server, 'core_mindbus_calls_served_total{outcome="ok"}')).toBe(3)
    expect(sample(server, 'core_mindbus_calls_served_total{outcome="E_CONFLICT"}')).toBe(1)
    expect(sample(server, 'core_mindbus_dropped_expired_total')).toBe(0)
    expect(sample(server, 'core_mindbus_dead_lettered_total')).toBe(0)
    const p = topology.queuePrefix
    expect(sample(server, `core_mindbus_queue_messages{queue="${p}.node.b"}`)).toBe(0)
    expect(sample(server, `core_mindbus_queue_messages{queue="${p}.ctl.b"}`)).toBe(0)
  })

  it('registers nothing on the global prom-client registry', async () => {
    const { register } = await import('prom-client')
    expect(await register.metrics()).not.toContain('core_mindbus_')
  })

  it.skipIf(!HAVE_PROMTOOL && !IN_CI)('passes `promtool check metrics`', async () => {
    if (!HAVE_PROMTOOL) {
      throw new Error('promtool is required under CI=true: apt-get install -y prometheus')
    }
    await a.services.call('calc.add', { x: 1, y: 1 })
    for (const registry of [callerRegistry, serverRegistry]) {
      const text = await registry.metrics()
      const { code, output } = await new Promise<{ code: number | null; output: string }>(
        (resolve, reject) => {
          const child = spawn('promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] })
          let out = ''
          child.stdout.on('data', (d: Buffer) => {
            out += d.toString()
          })
          child.stderr.on('data', (d: Buffer) => {
            out += d.toString()
          })
          child.on('error', reject)
          child.on('close', (c) => resolve({ code: c, output: out }))
          child.stdin.end(text)
        },
      )
      expect(output.trim()).toBe('')
      expect(code).toBe(0)
    }
  })
})
