import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runCli } from '@core/cli'
import { silentLogger } from '@core/contracts'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
// The one etcd probe (fails under CI=true, skips locally with how to start etcd).
import {
  describeWithEtcd,
  ETCD_URL,
} from '../../../packages/node-registry-etcd/test/etcd-server.js'
import { loadHubConfig } from '../src/config.js'
import { type RunningHub, startHub } from '../src/hub.js'
import { NODE_ID_FILE } from '../src/node.js'
import { closedPort, stagePlugins, writeHubConfig } from './helpers.js'

const ADMIN_TOKEN = 'c41e9d07b2a85f36e1d0c7b94a3f2e5d8b6a0c19f7e4d3b2a1c0e9f8d7b6a5c4' // 256 random bits: weaker ones are refused at start

let dir: string
const hubs: RunningHub[] = []
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hub-node-'))
  await stagePlugins(dir)
})
afterEach(async () => {
  await Promise.all(hubs.splice(0).map((h) => h.stop()))
  await rm(dir, { recursive: true, force: true })
})

async function boot(
  env: Record<string, string> = {},
  node: Record<string, unknown> = {},
): Promise<RunningHub> {
  const file = await writeHubConfig(dir, {
    pluginDirs: ['./plugins'],
    dataDir: './data',
    http: { port: 0 },
    mqtt: { url: `mqtt://127.0.0.1:${await closedPort()}`, startWaitMs: 100 },
    node: { name: 'kitchen-hub', ...node },
  })
  const config = await loadHubConfig({
    argv: ['--config', file],
    env: { CORE_ADMIN_TOKEN: ADMIN_TOKEN, ...env },
  })
  const hub = await startHub(config, { logger: silentLogger })
  hubs.push(hub)
  return hub
}

async function core(hub: RunningHub, argv: string[]) {
  let stdout = ''
  let stderr = ''
  const code = await runCli(argv, {
    env: { CORE_URL: hub.address.url, CORE_TOKEN: ADMIN_TOKEN },
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    signal: new AbortController().signal,
  })
  return { code, stdout, stderr }
}

describe('the hub in the node registry (memory backend, SQLite)', () => {
  it('registers its passport at boot with labels from CORE_NODE_LABELS and the services it serves', async () => {
    const hub = await boot({ CORE_NODE_LABELS: 'room=kitchen,floor=1' })
    const [self] = hub.node.registry.list()
    expect(self).toMatchObject({ nodeKind: 'hub', healthState: 'ALIVE' })
    expect(self?.passport.metadata).toMatchObject({
      name: 'kitchen-hub',
      labels: { room: 'kitchen', floor: '1' },
    })
    expect(self?.passport.spec.endpoint).toBe(hub.address.url)
    expect(self?.passport.spec.capabilities.services.map((s) => s.name)).toContain('hello.greet')
    const health = await hub.health()
    expect(health.components.nodes).toMatchObject({ status: 'healthy' })

    const listed = await core(hub, ['nodes', 'list', '-l', 'room=kitchen'])
    expect(listed.code).toBe(0)
    expect(listed.stdout).toContain('kitchen-hub')
    expect((await core(hub, ['nodes', 'list', '-l', 'room=hall', '--json'])).stdout.trim()).toBe(
      '[]',
    )
  })

  it('keeps its uid across restarts and leaves the registry on stop', async () => {
    const first = await boot()
    const uid = first.node.registry.list()[0]?.nodeId
    expect(await readFile(join(dir, 'data', NODE_ID_FILE), 'utf8')).toContain(uid)
    const removed = new Promise((resolve) =>
      first.node.registry.watch((event) => {
        if (event.type === 'removed') resolve(event.entry.nodeId)
      }),
    )
    await first.stop()
    expect(await removed).toBe(uid)
    const second = await boot()
    expect(second.node.registry.list().map((e) => e.nodeId)).toEqual([uid])
  })

  it('updates its capabilities when a plugin is unloaded', async () => {
    const hub = await boot()
    await hub.kernel.plugins.unload('hello')
    await vi.waitFor(() => {
      const services = hub.node.registry.list()[0]?.passport.spec.capabilities.services ?? []
      expect(services.map((s) => s.name)).not.toContain('hello.greet')
      expect(services.map((s) => s.name)).toContain('devices.add')
    })
  })

  it('refuses a bad CORE_NODE_LABELS naming the variable', async () => {
    await expect(boot({ CORE_NODE_LABELS: 'room kitchen' })).rejects.toThrow(/CORE_NODE_LABELS/)
  })
})

describeWithEtcd('the hub in the node registry (etcd backend)', () => {
  it('registers on etcd and answers core nodes list -l room=kitchen', async () => {
    const prefix = `/hub-test-${Date.now().toString(36)}`
    const hub = await boot(
      { CORE_ETCD_URL: ETCD_URL, CORE_NODE_LABELS: 'room=kitchen' },
      { etcdPrefix: prefix },
    )
    expect(hub.node.registry.health()).toMatchObject({ status: 'healthy', backend: 'etcd' })
    await vi.waitFor(() =>
      expect(hub.node.registry.findNodes({ selector: 'room=kitchen' })).toHaveLength(1),
    )
    const listed = await core(hub, ['nodes', 'list', '-l', 'room=kitchen', '--json'])
    expect(listed.code).toBe(0)
    expect(
      (JSON.parse(listed.stdout) as Array<{ passport: { metadata: { name: string } } }>)[0]
        ?.passport.metadata.name,
    ).toBe('kitchen-hub')
  })

  it('boots while etcd is unreachable and reports the nodes component degraded', async () => {
    const hub = await boot({ CORE_ETCD_URL: `http://127.0.0.1:${await closedPort()}` })
    await vi.waitFor(
      async () =>
        expect((await hub.health()).components.nodes).toMatchObject({ status: 'degraded' }),
      {
        timeout: 10_000,
      },
    )
    expect(hub.address.url).toMatch(/^http:/)
  })
})
