import { randomUUID } from 'node:crypto'
import { Connection, type RPCClient } from 'rabbitmq-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
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
 * The results kept to answer redelivered commands are bounded in bytes (`dedupResultBytes`):
 * a client that sends many commands with large answers cannot make a node hold them all for the
 * dedup window. A duplicate still never runs twice; without its result it gets `E_CONFLICT`.
 */
describe.skipIf(skipBroker)('MindBus duplicate answers within a byte budget', () => {
  const topology = uniqueTopology()
  const directory = new MemoryDirectory()
  // A result envelope of `blob.make` with size 400 is ~700 bytes: two fit, a third pushes out
  // the oldest.
  const BUDGET = 1_600
  let node: TestNode
  let raw: Connection
  let rpc: RPCClient
  const runs = new Map<string, number>()

  beforeAll(async () => {
    requireBroker()
    node = makeNode('d', directory, topology, { dedupResultBytes: BUDGET })
    node.services.register(
      'blob.make',
      ({ tag, size }: { tag: string; size: number }) => {
        runs.set(tag, (runs.get(tag) ?? 0) + 1)
        return { tag, data: 'x'.repeat(size) }
      },
      { params: {} },
    )
    directory.set('d', node.services)
    await node.mindbus.start(node.services)
    raw = new Connection({ url: AMQP_URL, noDelay: true })
    await raw.onConnect(5_000)
    // No publisher confirms: the client registers a request only once its publish resolves, and a
    // confirm of a persistent message can come after the reply (which is then dropped).
    rpc = raw.createRPCClient({ timeout: 5_000 })
  })

  afterAll(async () => {
    await rpc?.close()
    await node?.mindbus.close()
    await raw?.close()
    await dropTopology(topology, ['d'], ['blob'])
  })

  /** Sends command `id` (the same envelope id each time) straight to node d; its result data. */
  async function send(
    id: string,
    tag: string,
    size: number,
    source = 'test-client',
  ): Promise<Record<string, unknown>> {
    const reply = await rpc.send(
      {
        exchange: topology.exchange,
        routingKey: 'cmd.blob.d', // expiration: the client's timeout, 5 s
        durable: true,
        contentType: 'application/json',
      },
      rawEnvelope('core.mindbus.command', source, { action: 'make', params: { tag, size } }, id),
    )
    return (reply.body as { data: Record<string, unknown> }).data
  }

  it('answers a duplicate with the first result while it fits the budget, without running it again', async () => {
    const id = randomUUID()
    const before = node.mindbus.stats().duplicates
    const first = await send(id, 'small', 100)
    const again = await send(id, 'small', 100)
    expect(first).toEqual({ ok: true, result: { tag: 'small', data: 'x'.repeat(100) } })
    expect(again).toEqual(first)
    expect(runs.get('small')).toBe(1)
    expect(node.mindbus.stats().duplicates).toBe(before + 1)
  })

  it('keeps no result larger than the budget: its duplicate gets E_CONFLICT and does not run', async () => {
    const id = randomUUID()
    const first = await send(id, 'huge', 5_000)
    expect(first.ok).toBe(true)
    const again = await send(id, 'huge', 5_000)
    expect(again).toMatchObject({ ok: false, error: { code: 'E_CONFLICT' } })
    expect(String((again.error as { message: string }).message)).toContain(
      'already ran on node "uid-d" and is not run again',
    )
    expect(runs.get('huge')).toBe(1)
  })

  it("answers another sender's reuse of a command id with E_CONFLICT, not with the result", async () => {
    const id = randomUUID()
    const first = await send(id, 'private', 10)
    expect(first.ok).toBe(true)
    const reused = await send(id, 'private', 10, 'eavesdropper')
    expect(reused).toMatchObject({ ok: false, error: { code: 'E_CONFLICT' } })
    expect(JSON.stringify(reused)).not.toContain('xxxxxxxxxx')
    expect(String((reused.error as { message: string }).message)).toContain('by another sender')
    expect(runs.get('private')).toBe(1)
  })

  it('forgets the oldest results first once they add up to more than the budget', async () => {
    const ids = [randomUUID(), randomUUID(), randomUUID()]
    for (const [i, id] of ids.entries()) await send(id, `seq${i}`, 400)
    const oldest = await send(ids[0] as string, 'seq0', 400)
    const newest = await send(ids[2] as string, 'seq2', 400)
    expect(oldest).toMatchObject({ ok: false, error: { code: 'E_CONFLICT' } })
    expect(newest).toEqual({ ok: true, result: { tag: 'seq2', data: 'x'.repeat(400) } })
    expect([runs.get('seq0'), runs.get('seq1'), runs.get('seq2')]).toEqual([1, 1, 1])
  })
})
