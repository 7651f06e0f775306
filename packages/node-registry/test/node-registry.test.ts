import { randomUUID } from 'node:crypto'
import { CoreError, type NodePassport } from '@core/contracts'
import { createEventBus } from '@core/event-bus'
import { createFakeClock, type FakeClock } from '@core/testing'
import { afterEach, describe, expect, it } from 'vitest'
import {
  createMemoryNodeRegistryBackend,
  createNodeRegistry,
  type LabelSelector,
  type NodeRegistry,
  type NodeRegistryBackend,
  type NodeRegistryEvent,
} from '../src/index.js'

const INTERVAL = 10_000
const TTL = 30_000
const GRACE = 60_000

function passport(overrides: Partial<NodePassport['metadata']> = {}): NodePassport {
  return {
    apiVersion: 'core.runtime/v1',
    kind: 'NodePassport',
    metadata: {
      uid: randomUUID(),
      name: 'kitchen-hub',
      nodeType: 'hub',
      labels: { room: 'kitchen' },
      ...overrides,
    },
    spec: { capabilities: { services: [{ name: 'lights.toggle', version: '1.0.0' }] } },
  }
}

const open: NodeRegistry[] = []
afterEach(async () => {
  await Promise.all(open.splice(0).map((r) => r.close()))
})

/** Two registries on one memory store and one fake clock: a node and an observer. */
async function setup(clock: FakeClock = createFakeClock()) {
  const backend = createMemoryNodeRegistryBackend({ clock })
  const bus = createEventBus()
  const registry = createNodeRegistry({ backend, clock, bus })
  open.push(registry)
  await registry.ready()
  const events: NodeRegistryEvent[] = []
  registry.watch((event) => events.push(event))
  return { clock, registry, events, bus }
}

describe('health transitions (fake clock)', () => {
  it('should stay ALIVE while the lease heartbeats by itself', async () => {
    const { clock, registry } = await setup()
    const p = passport()
    await registry.register(p)
    await clock.advance(INTERVAL * 10)
    expect(registry.get(p.metadata.uid)?.healthState).toBe('ALIVE')
    expect(registry.get(p.metadata.uid)?.lastSeen).toBe(clock.now())
  })

  it('should go NOT_READY once late by more than one interval, OFFLINE at the TTL, then be removed after the grace period', async () => {
    const clock = createFakeClock()
    const store = createMemoryNodeRegistryBackend({ clock })
    const observer = createNodeRegistry({ backend: store, clock })
    open.push(observer)
    const events: string[] = []
    observer.watch((event) => events.push(`${event.type}@${clock.now() - start}`))
    const start = clock.now()
    const p = passport()
    // A node that heartbeats once and then never again: drive the backend by hand.
    await store.heartbeat({ passport: p, registeredAt: start }, TTL)
    expect(observer.get(p.metadata.uid)?.healthState).toBe('ALIVE')
    await clock.advance(2 * INTERVAL)
    expect(observer.get(p.metadata.uid)?.healthState).toBe('ALIVE')
    await clock.advance(1)
    expect(observer.get(p.metadata.uid)?.healthState).toBe('NOT_READY')
    await clock.advance(TTL - 2 * INTERVAL - 2)
    expect(observer.get(p.metadata.uid)?.healthState).toBe('NOT_READY')
    await clock.advance(1)
    expect(observer.get(p.metadata.uid)?.healthState).toBe('OFFLINE')
    await clock.advance(GRACE - 1)
    expect(observer.get(p.metadata.uid)?.healthState).toBe('OFFLINE')
    await clock.advance(1)
    expect(observer.get(p.metadata.uid)).toBeUndefined()
    expect(events).toEqual([
      'registered@0',
      `not_ready@${2 * INTERVAL + 1}`,
      `offline@${TTL}`,
      `removed@${TTL + GRACE}`,
    ])
  })

  it('should bring an OFFLINE node back to ALIVE with core.node.ready on its next heartbeat', async () => {
    const { clock, registry, bus } = await setup()
    const topics: string[] = []
    bus.subscribe('core.node.#', (event) => {
      topics.push(event.type)
    })
    const backend = createMemoryNodeRegistryBackend({ clock })
    const p = passport()
    const observer = createNodeRegistry({ backend, clock, bus })
    open.push(observer)
    const record = { passport: p, registeredAt: clock.now() }
    await backend.heartbeat(record, TTL)
    await clock.advance(TTL)
    expect(observer.get(p.metadata.uid)?.healthState).toBe('OFFLINE')
    await backend.heartbeat(record, TTL)
    expect(observer.get(p.metadata.uid)?.healthState).toBe('ALIVE')
    await expect
      .poll(() => topics)
      .toEqual([
        'core.node.registered',
        'core.node.not_ready',
        'core.node.offline',
        'core.node.ready',
      ])
    expect(registry.list()).toEqual([])
  })

  it('should report NOT_READY while the node says Ready=False, and ALIVE again when it says True', async () => {
    const { registry, events } = await setup()
    const lease = await registry.register(passport())
    await lease.update({
      status: { conditions: [{ type: 'Ready', status: 'False', reason: 'Draining' }] },
    })
    expect(registry.get(lease.uid)?.healthState).toBe('NOT_READY')
    await lease.update({ status: { conditions: [{ type: 'Ready', status: 'True' }] } })
    expect(registry.get(lease.uid)?.healthState).toBe('ALIVE')
    expect(events.map((e) => e.type)).toEqual([
      'registered',
      'updated',
      'not_ready',
      'updated',
      'ready',
    ])
  })

  it('should publish every change on the bus as core.node.<type> with the entry as data', async () => {
    const { registry, bus } = await setup()
    const seen: { type: string; data: unknown }[] = []
    bus.subscribe('core.node.#', (event) => {
      seen.push({ type: event.type, data: event.data })
    })
    const lease = await registry.register(passport())
    await lease.release()
    await expect
      .poll(() => seen.map((e) => e.type))
      .toEqual(['core.node.registered', 'core.node.removed'])
    expect(seen[0]?.data).toMatchObject({
      nodeId: lease.uid,
      nodeKind: 'hub',
      healthState: 'ALIVE',
    })
  })
})

describe('register, update, release', () => {
  it('should keep the passport as given, extra fields included', async () => {
    const { registry } = await setup()
    const p = { ...passport(), apiVersion: 'core.runtime/v1.3', future: { x: 1 } }
    await registry.register(p)
    expect(registry.get(p.metadata.uid)?.passport).toEqual(p)
  })

  it('should update rather than duplicate when the same uid registers twice', async () => {
    const { registry, events } = await setup()
    const p = passport()
    const first = await registry.register(p)
    const second = await registry.register({
      ...p,
      metadata: { ...p.metadata, labels: { room: 'hall' } },
    })
    expect(second.uid).toBe(first.uid)
    expect(registry.list()).toHaveLength(1)
    expect(registry.get(p.metadata.uid)?.passport.metadata.labels).toEqual({ room: 'hall' })
    expect(events.map((e) => e.type)).toEqual(['registered', 'updated'])
  })

  it('should keep two nodes of one name with different uids', async () => {
    const { registry } = await setup()
    await registry.register(passport({ name: 'twin' }))
    await registry.register(passport({ name: 'twin' }))
    expect(registry.findNodes({ selector: 'room=kitchen' })).toHaveLength(2)
  })

  it('should refuse a bad update and leave the passport as it was', async () => {
    const { registry } = await setup()
    const lease = await registry.register(passport())
    await expect(lease.update({ labels: { 'bad key': 'x' } })).rejects.toSatisfy((e) =>
      CoreError.is(e, 'E_VALIDATION'),
    )
    expect(registry.get(lease.uid)?.passport.metadata.labels).toEqual({ room: 'kitchen' })
  })

  it('should refuse heartbeats and updates after release with E_CANCELLED', async () => {
    const { registry } = await setup()
    const lease = await registry.register(passport())
    await lease.release()
    await lease.release()
    await expect(lease.update({ labels: {} })).rejects.toSatisfy((e) =>
      CoreError.is(e, 'E_CANCELLED'),
    )
  })
})

describe('findNodes', () => {
  it('should filter by kind, selector and health, in a stable order', async () => {
    const { registry } = await setup()
    await registry.register(passport({ name: 'b-hub', labels: { room: 'kitchen', floor: '1' } }))
    await registry.register(
      passport({ name: 'a-agent', nodeType: 'agent', labels: { room: 'kitchen', floor: '2' } }),
    )
    expect(registry.findNodes().map((e) => e.passport.metadata.name)).toEqual(['a-agent', 'b-hub'])
    expect(registry.findNodes({ kind: 'agent' }).map((e) => e.nodeKind)).toEqual(['agent'])
    expect(
      registry.findNodes({ selector: 'floor>1' }).map((e) => e.passport.metadata.name),
    ).toEqual(['a-agent'])
    expect(
      registry.findNodes({
        selector: { matchExpressions: [{ key: 'floor', operator: 'In', values: ['1'] }] },
      }),
    ).toHaveLength(1)
    expect(registry.findNodes({ selector: {} })).toHaveLength(2)
    expect(registry.findNodes({ onlyHealthy: true })).toHaveLength(2)
    expect(registry.counts()).toEqual({ ALIVE: 2, NOT_READY: 0, OFFLINE: 0 })
  })

  it('should refuse an invalid selector instead of matching it', async () => {
    const { registry } = await setup()
    await registry.register(passport())
    expect(() => registry.findNodes({ selector: 'x>bar' })).toThrow(CoreError)
    expect(() =>
      registry.findNodes({
        selector: { matchExpressions: [{ key: 'room', operator: 'In', values: [] }] },
      }),
    ).toThrow(/\/selector\/matchExpressions\/0\/values/)
  })
})

describe('timings and bad input', () => {
  it('should refuse timings that cannot work, naming the field', () => {
    const bad = (options: Parameters<typeof createNodeRegistry>[0], field: string) => {
      try {
        createNodeRegistry(options)
      } catch (error) {
        expect(CoreError.is(error, 'E_VALIDATION')).toBe(true)
        expect((error as CoreError).message).toContain(field)
        return
      }
      throw new Error(`expected ${field} to be refused`)
    }
    bad({ heartbeatIntervalMs: 10_000, ttlMs: 10_000 }, '/ttlMs')
    bad({ heartbeatIntervalMs: 0 }, '/heartbeatIntervalMs')
    bad({ ttlMs: 1.5 }, '/ttlMs')
    bad({ gracePeriodMs: -1 }, '/gracePeriodMs')
  })

  it('should refuse bad passports with the field path', async () => {
    const { registry } = await setup()
    const refusal = async (value: unknown, path: string) => {
      const error = await registry.register(value).then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(CoreError.is(error, 'E_VALIDATION'), path).toBe(true)
      expect((error as CoreError).message).toContain(path)
    }
    const p = passport()
    await refusal({ ...p, metadata: { ...p.metadata, uid: 'not-a-uuid' } }, '/metadata/uid')
    await refusal(
      { ...p, metadata: { ...p.metadata, labels: { room: 'bad value' } } },
      '/metadata/labels/room',
    )
    await refusal({ ...p, metadata: { ...p.metadata, name: 'Upper_Case' } }, '/metadata/name')
    await refusal(
      { ...p, spec: { ...p.spec, resources: { memory: '4 GB' } } },
      '/spec/resources/memory',
    )
    await refusal({ ...p, apiVersion: 'core.runtime/v2' }, '/apiVersion')
    await refusal({ ...p, apiVersion: 'other.group/v1' }, '/apiVersion')
    await refusal({ ...p, kind: 'Node' }, '/kind')
  })

  it('should read another apiVersion through its converter', async () => {
    const clock = createFakeClock()
    const registry = createNodeRegistry({
      clock,
      converters: {
        'core.runtime/v0': (old) => ({ ...(old as object), apiVersion: 'core.runtime/v1' }),
      },
    })
    open.push(registry)
    const p = passport()
    await registry.register({ ...p, apiVersion: 'core.runtime/v0' })
    expect(registry.get(p.metadata.uid)?.passport.apiVersion).toBe('core.runtime/v1')
  })
})

describe('an unreachable backend', () => {
  it('should not stop registration, report degraded, retry with backoff and recover', async () => {
    const clock = createFakeClock()
    const inner = createMemoryNodeRegistryBackend({ clock })
    let down = true
    let attempts = 0
    const flaky: NodeRegistryBackend = {
      ...inner,
      name: 'flaky',
      async put(record) {
        if (down) throw new CoreError('E_UNAVAILABLE', 'store down')
        return inner.put(record)
      },
      async heartbeat(record, ttlMs) {
        attempts++
        if (down) throw new CoreError('E_UNAVAILABLE', 'store down')
        return inner.heartbeat(record, ttlMs)
      },
      async load() {
        if (down) throw new CoreError('E_UNAVAILABLE', 'store down')
        return inner.load()
      },
    }
    const registry = createNodeRegistry({ backend: flaky, clock })
    open.push(registry)
    const lease = await registry.register(passport())
    expect(registry.health()).toMatchObject({ status: 'degraded', backend: 'flaky' })
    expect(registry.health().message).toContain('store down')
    await clock.advance(100 + 200 + 400)
    expect(attempts).toBe(4) // first try, then 100, 200, 400 ms later
    down = false
    await clock.advance(800)
    expect(registry.health()).toEqual({ status: 'healthy', backend: 'flaky' })
    expect(registry.get(lease.uid)?.healthState).toBe('ALIVE')
    await registry.ready()
  })
})

describe('findNodes against a plain filter (fast-check)', () => {
  it('returns exactly the entries matchLabelSelector accepts, in list order, label index or not', async () => {
    const fc = (await import('fast-check')).default
    const { matchLabelSelector } = await import('../src/index.js')
    const value = fc.constantFrom('a', 'b', '1', '7')
    const labels = fc.dictionary(fc.constantFrom('x', 'y', 'z'), value, { maxKeys: 3 })
    const requirement = fc.oneof(
      fc.record({
        key: fc.constantFrom('x', 'y'),
        operator: fc.constantFrom('In' as const, 'NotIn' as const),
        values: fc.array(value, { minLength: 1, maxLength: 2 }),
      }),
      fc.record({
        key: fc.constantFrom('x', 'z'),
        operator: fc.constantFrom('Exists' as const, 'DoesNotExist' as const),
      }),
      fc.record({
        key: fc.constantFrom('y', 'z'),
        operator: fc.constantFrom('Gt' as const, 'Lt' as const),
        values: fc.constantFrom('0', '5').map((v) => [v]),
      }),
    )
    const selector: import('fast-check').Arbitrary<LabelSelector> = fc.record({
      matchLabels: fc.dictionary(fc.constantFrom('x', 'y', 'z'), value, { maxKeys: 2 }),
      matchExpressions: fc.array(requirement, { maxLength: 2 }),
    })
    await fc.assert(
      fc.asyncProperty(
        fc.array(labels, { minLength: 0, maxLength: 12 }),
        fc.array(selector, { minLength: 1, maxLength: 4 }),
        async (sets, selectors) => {
          const registry = createNodeRegistry({ clock: createFakeClock() })
          for (const [i, l] of sets.entries())
            await registry.register(passport({ name: `n${i}`, labels: l }))
          for (const s of selectors) {
            const expected = registry
              .list()
              .filter((e) => matchLabelSelector(s, e.passport.metadata.labels))
            expect(registry.findNodes({ selector: s })).toEqual(expected)
          }
          await registry.close()
        },
      ),
      { numRuns: 150 },
    )
  })
})
