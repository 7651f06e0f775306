import { randomUUID } from 'node:crypto'
import { CoreError } from '@core/contracts'
import { Connection, type Publisher } from 'rabbitmq-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ControlSignal, MindBusAction } from '../src/index.js'
import {
  AMQP_URL,
  dropTopology,
  MemoryDirectory,
  makeNode,
  rawEnvelope,
  requireBroker,
  skipBroker,
  type TestNode,
  uniqueTopology,
} from './helpers.js'

/**
 * A broker client must not steer a node it has no right to: control signals are weighed by the
 * `authorize` hook (the hub's operator policy) as `control.<scope>` of their target, and a
 * `cancel` aborts only a command of the same sender.
 */
describe.skipIf(skipBroker)('MindBus control signals under the authorize hook', () => {
  const topology = uniqueTopology()
  const directory = new MemoryDirectory()
  let node: TestNode
  let raw: Connection
  let pub: Publisher
  const asked: Array<{ node: string; action: MindBusAction; resource: string }> = []
  const shutdowns: ControlSignal[] = []
  const started = new Set<string>()
  const aborted = new Map<string, unknown>()

  beforeAll(async () => {
    requireBroker()
    node = makeNode('k', directory, topology, {
      authorize: (caller, request) => {
        asked.push({ node: caller.node, ...request })
        if (request.action.startsWith('control.') && caller.node !== 'ops-console') {
          throw new CoreError('E_FORBIDDEN', `${caller.node} may not ${request.action}`)
        }
      },
    })
    node.services.register(
      'job.run',
      ({ tag }: { tag: string }, ctx) =>
        new Promise((resolve) => {
          started.add(tag)
          const timer = setTimeout(() => resolve('finished'), 10_000)
          ctx.signal.addEventListener('abort', () => {
            clearTimeout(timer)
            aborted.set(tag, ctx.signal.reason)
            resolve('aborted')
          })
        }),
      { params: {} },
    )
    node.mindbus.onControl('shutdown', (signal) => {
      shutdowns.push(signal)
    })
    directory.set('k', node.services)
    await node.mindbus.start(node.services)
    raw = new Connection({ url: AMQP_URL, noDelay: true })
    await raw.onConnect(5_000)
    pub = raw.createPublisher({ confirm: true })
  })

  afterAll(async () => {
    // End the jobs still running (a stop the hook allows), then close.
    if (pub !== undefined) {
      const stopped = aborted.size
      await control('ops-console', 'k', 'stop')
      for (let i = 0; i < 100 && aborted.size === stopped; i++) {
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
    }
    await pub?.close()
    await node?.mindbus.close()
    await raw?.close()
    await dropTopology(topology, ['k'], ['job'])
  })

  /** Publishes a control signal as `source` would, straight to the exchange. */
  function control(source: string, target: string, scope: string, data: unknown = null) {
    return pub.send(
      {
        exchange: topology.exchange,
        routingKey: `ctl.${target}.${scope}`,
        priority: 255,
        durable: true,
        contentType: 'application/json',
      },
      rawEnvelope('core.mindbus.control', source, { scope, target, data }),
    )
  }

  /** Starts `job.run` on node k as a command from `source` with envelope id `id`. */
  function command(source: string, id: string, tag: string) {
    return pub.send(
      {
        exchange: topology.exchange,
        routingKey: 'cmd.job.k',
        expiration: '30000',
        durable: true,
        contentType: 'application/json',
      },
      rawEnvelope('core.mindbus.command', source, { action: 'run', params: { tag } }, id),
    )
  }

  it('drops a shutdown the hook refuses before any handler sees it, and counts it', async () => {
    const before = node.mindbus.stats()
    await control('intruder', 'all', 'shutdown')
    await expect.poll(() => node.mindbus.stats().controlRefused).toBe(before.controlRefused + 1)
    expect(asked).toContainEqual({ node: 'intruder', action: 'control.shutdown', resource: 'all' })
    expect(shutdowns).toEqual([])
    expect(node.mindbus.stats().controlReceived).toBe(before.controlReceived)

    await control('ops-console', 'k', 'shutdown', { why: 'maintenance' })
    await expect.poll(() => shutdowns.length).toBe(1)
    expect(shutdowns[0]).toMatchObject({ from: 'ops-console', target: 'k', scope: 'shutdown' })
    expect(node.mindbus.stats().controlReceived).toBe(before.controlReceived + 1)
  })

  it('does not stop running commands, or pause the node, on a refused stop or pause', async () => {
    const id = randomUUID()
    await command('uid-caller', id, 'long')
    await expect.poll(() => started.has('long')).toBe(true)
    const refused = node.mindbus.stats().controlRefused
    await control('intruder', 'all', 'stop')
    await control('intruder', 'k', 'pause')
    await expect.poll(() => node.mindbus.stats().controlRefused).toBe(refused + 2)
    expect(aborted.has('long')).toBe(false)
    expect(node.mindbus.paused).toBe(false)
    // The caller's own cancel still reaches it (cancels are not weighed by the hook).
    await control('uid-caller', 'k', 'cancel', { id })
    await expect.poll(() => aborted.has('long')).toBe(true)
  })

  it("ignores a cancel of someone else's command, running or not yet arrived", async () => {
    const running = randomUUID()
    await command('uid-caller', running, 'victim')
    await expect.poll(() => started.has('victim')).toBe(true)
    await control('intruder', 'k', 'cancel', { id: running })
    const later = randomUUID()
    await control('intruder', 'k', 'cancel', { id: later }) // before its command arrives
    await command('uid-caller', later, 'second')
    await expect.poll(() => started.has('second')).toBe(true)
    expect(aborted.has('victim')).toBe(false)
    expect(aborted.has('second')).toBe(false)
    // The sender's own cancel before arrival: the command never starts.
    const never = randomUUID()
    const received = node.mindbus.stats().controlReceived
    await control('uid-caller', 'k', 'cancel', { id: never })
    await expect.poll(() => node.mindbus.stats().controlReceived).toBe(received + 1)
    await command('uid-caller', never, 'never')
    await command('uid-caller', randomUUID(), 'after') // queued behind it
    await expect.poll(() => started.has('after')).toBe(true)
    await control('uid-caller', 'k', 'cancel', { id: running })
    await expect.poll(() => aborted.has('victim')).toBe(true)
    expect(started.has('never')).toBe(false)
    expect(asked.some((a) => a.action === ('control.cancel' as MindBusAction))).toBe(false)
  })
})
