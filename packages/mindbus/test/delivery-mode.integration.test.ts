import { createServiceRegistry } from '@core/service-registry'
import { type AsyncMessage, type Channel, Connection } from 'rabbitmq-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  AMQP_URL,
  dropTopology,
  MemoryDirectory,
  makeNode,
  requireBroker,
  skipBroker,
  type TestNode,
  uniqueTopology,
} from './helpers.js'

describe.skipIf(skipBroker)('MindBus command delivery mode on a real RabbitMQ', () => {
  const topology = uniqueTopology()
  const directory = new MemoryDirectory()
  const probeQueue = `${topology.queuePrefix}.probe-x`
  const received: AsyncMessage[] = []
  let persistent: TestNode
  let transient: TestNode
  let raw: Connection
  let ch: Channel | undefined

  beforeAll(async () => {
    requireBroker()
    persistent = makeNode('p', directory, topology)
    transient = makeNode('t', directory, topology, { persistentCommands: false })
    await Promise.all([
      persistent.mindbus.start(persistent.services),
      transient.mindbus.start(transient.services),
    ])
    // A node "x" that serves probe.echo, played by a raw consumer that never answers.
    const x = createServiceRegistry()
    x.register('probe.echo', (p: unknown) => p, { params: {} })
    directory.set('x', x)
    raw = new Connection({ url: AMQP_URL, noDelay: true })
    ch = await raw.acquire()
    await ch.queueDeclare({ queue: probeQueue, exclusive: true })
    await ch.queueBind({
      exchange: topology.exchange,
      queue: probeQueue,
      routingKey: 'cmd.probe.x',
    })
    await ch.basicConsume({ queue: probeQueue, noAck: true }, (msg: AsyncMessage) => {
      received.push(msg)
    })
  })

  afterAll(async () => {
    await Promise.allSettled([persistent?.mindbus.close(), transient?.mindbus.close()])
    await ch?.close()
    await raw?.close()
    await dropTopology(topology, ['p', 't'], [])
  })

  it('publishes commands persistent (delivery_mode 2) by default and transient when persistentCommands is false', async () => {
    const call = (node: TestNode): Promise<unknown> =>
      node.services.call('probe.echo', {}, { timeoutMs: 300 }).catch((e: unknown) => e)
    await Promise.all([call(persistent), call(transient)])
    await expect.poll(() => received.length).toBe(2)
    const byNode = Object.fromEntries(received.map((m) => [m.appId, m]))
    expect(byNode.p?.deliveryMode).toBe(2)
    expect(byNode.t?.deliveryMode).toBe(1)
    for (const m of received) {
      expect(m.priority).toBe(20)
      expect(m.replyTo).toMatch(/^amq\.rabbitmq\.reply-to/)
    }
  })
})
