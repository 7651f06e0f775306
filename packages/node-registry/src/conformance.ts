/// <reference types="node" preserve="true" />
/**
 * The conformance suite of `@core/node-registry`, for authors of backends and adapters (vitest,
 * an optional peer dependency).
 *
 * @module @core/node-registry/conformance
 */
import { randomUUID } from 'node:crypto'
import { CoreError, type NodePassport } from '@core/contracts'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { NodeRegistryBackend } from './backend.js'
import { createNodeRegistry } from './node-registry.js'
import type { NodeRegistry, NodeRegistryEvent } from './types.js'

/**
 * Connects one more backend instance to a shared registry space (another process on the same
 * etcd prefix, another memory backend on the same store).
 * @public
 */
export type NodeRegistryBackendFactory = () => NodeRegistryBackend | Promise<NodeRegistryBackend>

/** Options of {@link runNodeRegistryConformance}. @public */
export interface NodeRegistryConformanceOptions {
  /** Shown in the suite's name, e.g. `etcd`. @defaultValue `backend` */
  name?: string
  /**
   * Liveness TTL the suite uses, ms; a backend whose TTLs have a coarse floor (etcd leases:
   * whole seconds, at least about 2 s) passes a larger one. @defaultValue 1_000
   */
  ttlMs?: number
}

/**
 * Registers the node-registry backend conformance suite (vitest `describe`/`it`): passports
 * seen by a second instance, re-registration of one uid, two nodes of one name, updates,
 * release, a node that stops heartbeating going `OFFLINE` within TTL + one interval and being
 * removed once after the grace period, a heartbeat after `OFFLINE`, the first view of a late
 * instance, compare-and-delete, and the selector queries on top. Real time, short timings.
 *
 * Each test calls `makeSpace()` once for a fresh, empty registry space, then the factory it
 * returns once per registry instance; every instance is closed after the test.
 *
 * @param makeSpace - Creates a fresh space and returns how to connect instances to it.
 * @param options - `name` for the title, `ttlMs` for backends with coarse TTLs.
 * @see CONVENTIONS.md §9 (one conformance suite for all adapters)
 * @example
 * ```ts
 * import { runNodeRegistryConformance } from '@core/node-registry/conformance'
 * runNodeRegistryConformance(async () => {
 *   const store = createMemoryNodeStore()
 *   return () => createMemoryNodeRegistryBackend({ store })
 * }, { name: 'memory' })
 * ```
 * @public
 */
export function runNodeRegistryConformance(
  makeSpace: () => Promise<NodeRegistryBackendFactory>,
  options: NodeRegistryConformanceOptions = {},
): void {
  const ttlMs = options.ttlMs ?? 1_000
  const heartbeatIntervalMs = Math.max(100, Math.floor(ttlMs / 4))
  const gracePeriodMs = heartbeatIntervalMs * 2
  const waitMs = ttlMs + heartbeatIntervalMs + 2_000

  describe(`node registry conformance: ${options.name ?? 'backend'}`, () => {
    const open: NodeRegistry[] = []
    afterEach(async () => {
      await Promise.all(open.splice(0).map((r) => r.close()))
    })
    const connect = async (factory: NodeRegistryBackendFactory): Promise<NodeRegistry> => {
      const registry = createNodeRegistry({
        backend: await factory(),
        heartbeatIntervalMs,
        ttlMs,
        gracePeriodMs,
      })
      open.push(registry)
      await registry.ready()
      return registry
    }
    const pair = async (): Promise<[NodeRegistry, NodeRegistry]> => {
      const factory = await makeSpace()
      return [await connect(factory), await connect(factory)]
    }
    const recorder = (registry: NodeRegistry): NodeRegistryEvent[] => {
      const events: NodeRegistryEvent[] = []
      registry.watch((event) => events.push(event))
      return events
    }

    it('shows a registered passport, unchanged, to every instance', async () => {
      const [a, b] = await pair()
      const p = { ...passport('kitchen-hub', { room: 'kitchen' }), extra: { kept: true } }
      await a.register(p)
      await vi.waitFor(() => expect(b.get(p.metadata.uid)?.healthState).toBe('ALIVE'), {
        timeout: waitMs,
      })
      const entry = b.get(p.metadata.uid)
      expect(entry).toMatchObject({ nodeId: p.metadata.uid, nodeKind: 'hub', passport: p })
      expect(typeof entry?.registeredAt).toBe('number')
      expect(typeof entry?.lastSeen).toBe('number')
      expect(Object.isFrozen(entry)).toBe(true)
    })

    it('keeps one entry per uid: registering a uid again updates it', async () => {
      const [a, b] = await pair()
      const first = passport('hub', { v: '1' })
      await a.register(first)
      await vi.waitFor(() => expect(b.get(first.metadata.uid)).toBeDefined(), { timeout: waitMs })
      const registeredAt = b.get(first.metadata.uid)?.registeredAt
      const again = { ...first, metadata: { ...first.metadata, labels: { v: '2' } } }
      await a.register(again)
      await vi.waitFor(
        () => expect(b.get(first.metadata.uid)?.passport.metadata.labels).toEqual({ v: '2' }),
        { timeout: waitMs },
      )
      expect(b.list().filter((e) => e.nodeId === first.metadata.uid)).toHaveLength(1)
      expect(b.get(first.metadata.uid)?.registeredAt).toBe(registeredAt)
    })

    it('keeps two nodes of the same name with different uids, in a stable order', async () => {
      const [a, b] = await pair()
      const one = passport('same-name')
      const two = passport('same-name')
      await a.register(one)
      await b.register(two)
      await vi.waitFor(() => expect(a.list()).toHaveLength(2), { timeout: waitMs })
      await vi.waitFor(() => expect(b.list()).toHaveLength(2), { timeout: waitMs })
      const sorted = [one.metadata.uid, two.metadata.uid].sort()
      expect(a.list().map((e) => e.nodeId)).toEqual(sorted)
      expect(b.list().map((e) => e.nodeId)).toEqual(sorted)
    })

    it('spreads an update of labels and answers selectors with it', async () => {
      const [a, b] = await pair()
      const p = passport('n1', { room: 'hall' })
      const lease = await a.register(p)
      await vi.waitFor(() => expect(b.get(p.metadata.uid)).toBeDefined(), { timeout: waitMs })
      await lease.update({ labels: { room: 'kitchen', floor: '1' } })
      await vi.waitFor(
        () =>
          expect(b.findNodes({ selector: 'room=kitchen,floor>0' }).map((e) => e.nodeId)).toEqual([
            p.metadata.uid,
          ]),
        { timeout: waitMs },
      )
      expect(b.findNodes({ selector: { matchLabels: { room: 'hall' } } })).toEqual([])
      expect(lease.passport.metadata.labels).toEqual({ room: 'kitchen', floor: '1' })
    })

    it('removes a released node from every instance', async () => {
      const [a, b] = await pair()
      const events = recorder(b)
      const p = passport('leaving')
      const lease = await a.register(p)
      await vi.waitFor(() => expect(b.get(p.metadata.uid)).toBeDefined(), { timeout: waitMs })
      await lease.release()
      await vi.waitFor(() => expect(b.get(p.metadata.uid)).toBeUndefined(), { timeout: waitMs })
      expect(a.get(p.metadata.uid)).toBeUndefined()
      expect(events.filter((e) => e.type === 'removed')).toHaveLength(1)
      await expect(lease.heartbeat()).rejects.toSatisfy((e) => CoreError.is(e, 'E_CANCELLED'))
    })

    it('marks a node that stops heartbeating OFFLINE within TTL + one interval, then removes it once', async () => {
      const factory = await makeSpace()
      const watcher = await connect(factory)
      const dying = await connect(factory)
      const events = recorder(watcher)
      const p = passport('dying')
      await dying.register(p)
      await vi.waitFor(() => expect(watcher.get(p.metadata.uid)?.healthState).toBe('ALIVE'), {
        timeout: waitMs,
      })
      const stoppedAt = Date.now()
      await dying.close() // stops heartbeating without releasing, as a crash would
      await vi.waitFor(() => expect(watcher.get(p.metadata.uid)?.healthState).toBe('OFFLINE'), {
        timeout: waitMs,
        interval: 20,
      })
      expect(Date.now() - stoppedAt).toBeLessThanOrEqual(ttlMs + heartbeatIntervalMs + 1_000)
      await vi.waitFor(() => expect(watcher.get(p.metadata.uid)).toBeUndefined(), {
        timeout: waitMs + gracePeriodMs,
      })
      const types = events.filter((e) => e.entry.nodeId === p.metadata.uid).map((e) => e.type)
      expect(types.filter((t) => t === 'offline')).toHaveLength(1)
      expect(types.filter((t) => t === 'removed')).toHaveLength(1)
      expect(types.indexOf('offline')).toBeLessThan(types.indexOf('removed'))
    })

    it('brings an OFFLINE node back to ALIVE on its next heartbeat', async () => {
      const factory = await makeSpace()
      const watcher = await connect(factory)
      const events = recorder(watcher)
      const backend = await factory()
      const p = passport('sleepy')
      const record = { passport: p, registeredAt: Date.now() }
      try {
        await backend.put(record)
        await backend.heartbeat(record, ttlMs)
        await vi.waitFor(() => expect(watcher.get(p.metadata.uid)?.healthState).toBe('OFFLINE'), {
          timeout: waitMs,
          interval: 20,
        })
        await backend.heartbeat(record, ttlMs)
        await vi.waitFor(() => expect(watcher.get(p.metadata.uid)?.healthState).toBe('ALIVE'), {
          timeout: waitMs,
        })
        expect(events.map((e) => e.type)).toContain('ready')
      } finally {
        await backend.remove(p.metadata.uid)
        await backend.close()
      }
    })

    it('gives a late instance the current membership', async () => {
      const factory = await makeSpace()
      const early = await connect(factory)
      const p = passport('early', { zone: 'a' })
      await early.register(p)
      const late = await connect(factory)
      expect(late.get(p.metadata.uid)?.passport).toEqual(p)
      expect(late.findNodes({ kind: 'hub', onlyHealthy: true }).map((e) => e.nodeId)).toEqual([
        p.metadata.uid,
      ])
      expect(late.findNodes({ kind: 'agent' })).toEqual([])
    })

    it('removes an expired node exactly once when several instances try (compare-and-delete)', async () => {
      const factory = await makeSpace()
      const one = await factory()
      const two = await factory()
      const p = passport('contested')
      const record = { passport: p, registeredAt: Date.now() }
      try {
        await one.heartbeat(record, ttlMs)
        expect(await two.remove(p.metadata.uid, { onlyIfExpired: true })).toBe(false)
        await vi.waitFor(
          async () =>
            expect(
              (await two.load()).find((n) => n.passport.metadata.uid === p.metadata.uid)?.live,
            ).toBe(false),
          { timeout: waitMs, interval: 50 },
        )
        const results = await Promise.all([
          one.remove(p.metadata.uid, { onlyIfExpired: true }),
          two.remove(p.metadata.uid, { onlyIfExpired: true }),
        ])
        expect(results.filter(Boolean)).toHaveLength(1)
        expect((await one.load()).some((n) => n.passport.metadata.uid === p.metadata.uid)).toBe(
          false,
        )
      } finally {
        await one.close()
        await two.close()
      }
    })

    it('re-creates a removed passport on the next heartbeat', async () => {
      const factory = await makeSpace()
      const backend = await factory()
      const p = passport('phoenix')
      const record = { passport: p, registeredAt: Date.now() }
      try {
        await backend.heartbeat(record, ttlMs)
        await backend.remove(p.metadata.uid)
        expect(await backend.load()).toEqual([])
        await backend.heartbeat(record, ttlMs)
        expect(await backend.load()).toEqual([{ ...record, live: true }])
      } finally {
        await backend.remove(p.metadata.uid)
        await backend.close()
      }
    })
  })
}

function passport(name: string, labels: Record<string, string> = {}): NodePassport {
  return {
    apiVersion: 'core.runtime/v1',
    kind: 'NodePassport',
    metadata: { uid: randomUUID(), name, nodeType: 'hub', labels },
    spec: { capabilities: { services: [{ name: 'lights.toggle', version: '1.0.0' }] } },
  }
}
