import { randomUUID } from 'node:crypto'
import { type NodePassport, silentLogger } from '@core/contracts'
import { createEventBus } from '@core/event-bus'
import {
  createMemoryNodeRegistryBackend,
  createMemoryNodeStore,
  createNodeRegistry,
} from '@core/node-registry'
import { afterEach, describe, expect, it } from 'vitest'
import {
  NODE_LEAVE_EVENT,
  NODE_PASSPORT_EVENT,
  type NodeGossip,
  startNodeGossip,
} from '../src/node-gossip.js'

const passport = (uid: string, name: string): NodePassport => ({
  apiVersion: 'core.runtime/v1',
  kind: 'NodePassport',
  metadata: { uid, name, nodeType: 'hub', labels: {} },
  spec: { capabilities: { services: [{ name: 'locks.open', version: '1.0.0' }] } },
})

const running: Array<{ gossip: NodeGossip; close: () => Promise<void> }> = []
afterEach(async () => {
  for (const r of running.splice(0)) {
    await r.gossip.stop()
    await r.close()
  }
})

/** One hub's gossip on a local bus (what MindBus would bridge), with its memory registry. */
async function hub() {
  const bus = createEventBus({ logger: silentLogger })
  const store = createMemoryNodeStore()
  const registry = createNodeRegistry({
    backend: createMemoryNodeRegistryBackend({ store }),
    bus,
    logger: silentLogger,
  })
  await registry.ready()
  const self = passport(randomUUID(), 'this-hub')
  const gossip = startNodeGossip({
    bus,
    registry,
    peers: createMemoryNodeRegistryBackend({ store }),
    self: () => self,
    intervalMs: 60_000,
    ttlMs: 30_000,
    logger: silentLogger,
  })
  running.push({ gossip, close: () => registry.close() })
  /** Publishes a gossip event as MindBus imports it: `source` is the sender's uid. */
  const receive = (type: string, data: unknown, source: string) =>
    bus.publish(type, data, { source })
  return { registry, receive }
}

describe('node gossip: a hub speaks only for itself', () => {
  it('applies a passport from the node it describes, and ignores one sent by another node', async () => {
    const { registry, receive } = await hub()
    const kitchen = passport(randomUUID(), 'kitchen')
    await receive(NODE_PASSPORT_EVENT, { passport: kitchen, ttlMs: 30_000 }, 'intruder')
    expect(registry.get(kitchen.metadata.uid)).toBeUndefined()
    await receive(NODE_PASSPORT_EVENT, { passport: kitchen, ttlMs: 30_000 }, kitchen.metadata.uid)
    await expect
      .poll(() => registry.get(kitchen.metadata.uid)?.passport.metadata.name)
      .toBe('kitchen')
    // A forged update of a known node (other services, other name) is ignored too.
    const forged = { ...passport(kitchen.metadata.uid, 'forged') }
    await receive(NODE_PASSPORT_EVENT, { passport: forged, ttlMs: 30_000 }, 'intruder')
    expect(registry.get(kitchen.metadata.uid)?.passport.metadata.name).toBe('kitchen')
  })

  it('removes a node on its own leave only', async () => {
    const { registry, receive } = await hub()
    const hall = passport(randomUUID(), 'hall')
    await receive(NODE_PASSPORT_EVENT, { passport: hall, ttlMs: 30_000 }, hall.metadata.uid)
    await expect.poll(() => registry.get(hall.metadata.uid)).toBeDefined()
    await receive(NODE_LEAVE_EVENT, { uid: hall.metadata.uid }, 'intruder')
    expect(registry.get(hall.metadata.uid)).toBeDefined()
    await receive(NODE_LEAVE_EVENT, { uid: hall.metadata.uid }, hall.metadata.uid)
    await expect.poll(() => registry.get(hall.metadata.uid)).toBeUndefined()
  })
})
