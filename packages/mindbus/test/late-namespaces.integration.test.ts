import { CoreError } from '@core/contracts'
import { Connection } from 'rabbitmq-client'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
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

/** What the kernel publishes on a plugin transition (the signal MindBus follows). */
async function pluginChanged(node: TestNode, state: string): Promise<void> {
  await node.bus.publish(
    `core.plugin.${state}`,
    { plugin: 'late', state },
    { source: '/core/kernel' },
  )
}

describe.skipIf(skipBroker)('MindBus serves namespaces that appear after start', () => {
  const topology = uniqueTopology()
  const directory = new MemoryDirectory()
  let a: TestNode
  let b: TestNode
  let raw: Connection
  const undo: Array<() => void> = []

  function registerLate(): void {
    undo.push(
      b.services.register('late.ping', ({ n }: { n: number }) => ({ pong: n, by: b.id }), {
        params: { type: 'object', properties: { n: { type: 'number' } } },
      }),
    )
  }

  async function sharedConsumers(ns: string): Promise<number> {
    const q = await raw.queueDeclare({ queue: `${topology.queuePrefix}.cmd.${ns}`, passive: true })
    return q.consumerCount
  }

  beforeAll(async () => {
    requireBroker()
    a = makeNode('a', directory, topology)
    b = makeNode('b', directory, topology)
    b.services.register('early.ping', () => 'early', { params: {} })
    directory.set('a', a.services)
    directory.set('b', b.services)
    await Promise.all([a.mindbus.start(a.services), b.mindbus.start(b.services)])
    raw = new Connection({ url: AMQP_URL, noDelay: true })
    await raw.onConnect(5_000)
  })

  afterAll(async () => {
    for (const u of undo) u()
    await Promise.allSettled([a?.mindbus.close(), b?.mindbus.close()])
    await raw?.close()
    await dropTopology(topology, ['a', 'b'], ['early', 'late'])
  })

  it('binds a namespace registered after start on the next plugin event, for targeted and "any" calls', async () => {
    expect(b.mindbus.namespaces).toEqual(['early'])
    registerLate()
    directory.set('b', b.services)
    await pluginChanged(b, 'started')
    await vi.waitFor(() => expect(b.mindbus.namespaces).toEqual(['early', 'late']), {
      timeout: 10_000,
    })
    await b.mindbus.refreshNamespaces() // the update the event started has been applied
    await expect(a.services.call('late.ping', { n: 1 })).resolves.toEqual({ pong: 1, by: 'b' })
    await expect(
      a.services.call('late.ping', { n: 2 }, { meta: { route: { dispatch: 'any' } } }),
    ).resolves.toEqual({ pong: 2, by: 'b' })
  })

  it('is idempotent: repeated and concurrent refreshes keep one set of consumers', async () => {
    await Promise.all([
      b.mindbus.refreshNamespaces(),
      b.mindbus.refreshNamespaces(),
      pluginChanged(b, 'started'),
    ])
    await b.mindbus.refreshNamespaces()
    expect(b.mindbus.namespaces).toEqual(['early', 'late'])
    expect(await sharedConsumers('late')).toBe(2) // sharedConsumerChannels of makeNode
    expect(await sharedConsumers('early')).toBe(2)
  })

  it('re-declares the late namespace with the node queue after the queue was lost', async () => {
    // Deleting the queue cancels its consumers; rabbitmq-client declares and binds it again.
    await raw.queueDelete({ queue: `${topology.queuePrefix}.node.b` })
    await vi.waitFor(
      async () => {
        await expect(a.services.call('late.ping', { n: 3 }, { timeoutMs: 2_000 })).resolves.toEqual(
          { pong: 3, by: 'b' },
        )
      },
      { timeout: 20_000, interval: 200 },
    )
    await expect(a.services.call('early.ping', {})).resolves.toBe('early')
  })

  it('unbinds a namespace whose services are gone: a stale caller fails at once with E_SERVICE_NOT_FOUND', async () => {
    for (const u of undo.splice(0)) u()
    await pluginChanged(b, 'stopped')
    await b.mindbus.refreshNamespaces()
    expect(b.mindbus.namespaces).toEqual(['early'])
    // The directory still lists late.ping on b (a stale passport): the command is unroutable.
    const error = await a.services
      .call('late.ping', { n: 4 }, { timeoutMs: 60_000 })
      .catch((e: unknown) => e)
    expect(CoreError.is(error, 'E_SERVICE_NOT_FOUND')).toBe(true)
    expect(await sharedConsumers('late')).toBe(0)
    await expect(a.services.call('early.ping', {})).resolves.toBe('early')
  })

  it('serves the namespace again when it comes back (a reload into the same namespace)', async () => {
    registerLate()
    await b.mindbus.refreshNamespaces()
    expect(b.mindbus.namespaces).toEqual(['early', 'late'])
    await expect(a.services.call('late.ping', { n: 5 })).resolves.toEqual({ pong: 5, by: 'b' })
    expect(await sharedConsumers('late')).toBe(2)
  })

  it('keeps a fixed namespaces list as given', async () => {
    const fixed = makeNode('f', directory, topology, { namespaces: ['early'] })
    try {
      await fixed.mindbus.start(fixed.services)
      fixed.services.register('other.x', () => 1, { params: {} })
      await fixed.mindbus.refreshNamespaces()
      expect(fixed.mindbus.namespaces).toEqual(['early'])
    } finally {
      await fixed.mindbus.close()
      for (const q of ['node', 'ctl', 'evt']) {
        await raw.queueDelete({ queue: `${topology.queuePrefix}.${q}.f` }).catch(() => undefined)
      }
    }
  })
})
