import { type ChildProcess, spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { createNodeRegistry, type NodeRegistry } from '@core/node-registry'
import { afterAll, afterEach, beforeAll, expect, it, vi } from 'vitest'
import { createEtcdNodeRegistryBackend } from '../src/index.js'
import { describeWithEtcd, type PrivateEtcd, startPrivateEtcd } from './etcd-server.js'

/**
 * Real processes on a private etcd (127.0.0.1:23790, its own data dir): the node is a child
 * process killed with SIGKILL or paused with SIGSTOP; etcd itself is killed and restarted.
 * The shared etcd on :2379 is only probed, never touched.
 */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
const FIXTURE = fileURLToPath(new URL('./fixtures/node-process.ts', import.meta.url))
const INTERVAL = 500
const TTL = 2_000

describeWithEtcd('node processes on etcd', () => {
  let etcd: PrivateEtcd
  const children: ChildProcess[] = []
  const registries: NodeRegistry[] = []
  beforeAll(async () => {
    etcd = await startPrivateEtcd(23790)
  }, 30_000)
  afterEach(async () => {
    for (const child of children.splice(0)) {
      child.kill('SIGCONT')
      child.kill('SIGKILL')
    }
    await Promise.all(registries.splice(0).map((r) => r.close()))
  })
  afterAll(async () => {
    await etcd?.dispose()
  })

  const observer = async (prefix: string): Promise<NodeRegistry> => {
    const registry = createNodeRegistry({
      backend: createEtcdNodeRegistryBackend({ url: etcd.url, prefix, callTimeoutMs: 1_000 }),
      heartbeatIntervalMs: INTERVAL,
      ttlMs: TTL,
      gracePeriodMs: 60_000,
    })
    registries.push(registry)
    await registry.ready()
    return registry
  }

  const startNode = async (prefix: string, uid: string): Promise<ChildProcess> => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', FIXTURE, etcd.url, prefix, uid, String(INTERVAL), String(TTL)],
      {
        cwd: ROOT,
        env: { ...process.env, TSX_TSCONFIG_PATH: `${ROOT}tsconfig.json` },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    children.push(child)
    let out = ''
    let err = ''
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString()
    })
    child.stderr?.on('data', (chunk: Buffer) => {
      err += chunk.toString()
    })
    await vi.waitFor(
      () => {
        if (child.exitCode !== null) throw new Error(`node exited early: ${err}`)
        expect(out).toContain(`registered ${uid}`)
      },
      { timeout: 30_000, interval: 50 },
    )
    return child
  }

  it('shows a node killed with SIGKILL as OFFLINE within TTL + one interval', async () => {
    const prefix = `/mp-${randomUUID()}`
    const registry = await observer(prefix)
    const uid = randomUUID()
    const child = await startNode(prefix, uid)
    await vi.waitFor(() => expect(registry.get(uid)?.healthState).toBe('ALIVE'), {
      timeout: 10_000,
    })
    const killedAt = Date.now()
    child.kill('SIGKILL')
    await vi.waitFor(() => expect(registry.get(uid)?.healthState).toBe('OFFLINE'), {
      timeout: 10_000,
      interval: 20,
    })
    const elapsed = Date.now() - killedAt
    // etcd leases count whole seconds: the 2 s TTL is 2 s on etcd too.
    expect(elapsed).toBeLessThanOrEqual(TTL + INTERVAL)
  }, 60_000)

  it('brings a node paused with SIGSTOP past its TTL back to ALIVE after SIGCONT', async () => {
    const prefix = `/mp-${randomUUID()}`
    const registry = await observer(prefix)
    const events: string[] = []
    registry.watch((event) => events.push(event.type))
    const uid = randomUUID()
    const child = await startNode(prefix, uid)
    await vi.waitFor(() => expect(registry.get(uid)?.healthState).toBe('ALIVE'), {
      timeout: 10_000,
    })
    child.kill('SIGSTOP')
    await vi.waitFor(() => expect(registry.get(uid)?.healthState).toBe('OFFLINE'), {
      timeout: 10_000,
      interval: 20,
    })
    child.kill('SIGCONT')
    await vi.waitFor(() => expect(registry.get(uid)?.healthState).toBe('ALIVE'), {
      timeout: 10_000,
    })
    expect(events).toContain('offline')
    expect(events.at(-1)).toBe('ready')
  }, 60_000)

  it('survives an etcd restart: answers from the last view while degraded, then the node comes back', async () => {
    const prefix = `/mp-${randomUUID()}`
    const registry = await observer(prefix)
    const uid = randomUUID()
    await startNode(prefix, uid)
    await vi.waitFor(() => expect(registry.get(uid)?.healthState).toBe('ALIVE'), {
      timeout: 10_000,
    })
    const lease = await registry.register({
      apiVersion: 'core.runtime/v1',
      kind: 'NodePassport',
      metadata: { uid: randomUUID(), name: 'observer', nodeType: 'hub', labels: { room: 'hall' } },
      spec: { capabilities: { services: [] } },
    })
    await etcd.kill()
    await vi.waitFor(() => expect(registry.health().status).toBe('degraded'), { timeout: 15_000 })
    expect(registry.findNodes({ kind: 'agent' }).map((e) => e.nodeId)).toEqual([uid])
    await etcd.start()
    await vi.waitFor(
      () => {
        expect(registry.health().status).toBe('healthy')
        expect(registry.get(uid)?.healthState).toBe('ALIVE')
        expect(registry.get(lease.uid)?.healthState).toBe('ALIVE')
      },
      { timeout: 30_000, interval: 100 },
    )
  }, 90_000)
})
