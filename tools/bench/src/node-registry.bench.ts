/**
 * @core/node-registry (issue 10 §5):
 *
 * - `findNodes` with a three-requirement selector (`zone=z3`, `tier in (a,b)`, `cpu>4`) over
 *   10,000 registered nodes, target ≥ 2,000 queries/s; and the ratio against a plain
 *   `Array.filter` over the same label sets with the same matcher (`matchLabelSelector`);
 * - on etcd (a private server this suite starts on 127.0.0.1:23795 with a temporary data dir):
 *   1,000 registrations seen by a second instance's watch (ms until the last arrives), and the
 *   heartbeat load of 1,000 leases at a 10 s interval over 30 s: CPU of etcd and of this
 *   process, as a share of one core.
 *
 * Run: `npx tsx tools/bench/src/run.ts node-registry` (or `pnpm bench node-registry`).
 * Skips the etcd part (with a line saying so) when the `etcd` binary is missing.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { NodePassport } from '@core/contracts'
import {
  compileLabelSelector,
  createNodeRegistry,
  type LabelSelector,
  matchLabelSelector,
  type NodeRegistry,
} from '@core/node-registry'
import { createEtcdNodeRegistryBackend } from '@core/node-registry-etcd'
import { compare, emit, ratio } from './measure.js'

const NODES = 10_000
const TARGET_QUERIES_PER_S = 2_000
const ETCD_PORT = 23795
const REGISTRATIONS = 1_000
const LOAD_WINDOW_MS = 30_000
/** Timings that keep the 10,000 in-memory leases quiet during the query benchmark. */
const QUIET = { heartbeatIntervalMs: 3_600_000, ttlMs: 7_200_000 }

export default async function nodeRegistryBench(): Promise<void> {
  await queries()
  await onEtcd()
}

async function queries(): Promise<void> {
  const registry = createNodeRegistry(QUIET)
  const labelSets: Record<string, string>[] = []
  for (let i = 0; i < NODES; i++) {
    const labels = { zone: `z${i % 10}`, tier: 'abcd'[i % 4] as string, cpu: String(1 + (i % 16)) }
    labelSets.push(labels)
    await registry.register(passport(`node-${i}`, labels))
  }
  const selector: LabelSelector = {
    matchLabels: { zone: 'z3' },
    matchExpressions: [
      { key: 'tier', operator: 'In', values: ['a', 'b'] },
      { key: 'cpu', operator: 'Gt', values: ['4'] },
    ],
  }
  const expected = labelSets.filter((l) => matchLabelSelector(selector, l)).length
  const found = registry.findNodes({ selector }).length
  if (found !== expected) throw new Error(`findNodes found ${found}, Array.filter ${expected}`)
  let sink = 0
  const compiled = compileLabelSelector(selector)
  const figures = await compare(
    {
      'findNodes, 3-requirement selector, 10,000 nodes': () => {
        sink += registry.findNodes({ selector }).length
      },
      'Array.filter + matchLabelSelector, same 10,000 label sets': () => {
        sink += labelSets.filter((l) => matchLabelSelector(selector, l)).length
      },
      'Array.filter + compileLabelSelector, same 10,000 label sets': () => {
        sink += labelSets.filter(compiled).length
      },
      'findNodes, same selector as a string (parsed per query)': () => {
        sink += registry.findNodes({ selector: 'zone=z3,tier in (a,b),cpu>4' }).length
      },
    },
    { batch: 200, rounds: 9, warmup: 2 },
  )
  const ours = figures['findNodes, 3-requirement selector, 10,000 nodes']
  const filter = figures['Array.filter + matchLabelSelector, same 10,000 label sets']
  const text = figures['findNodes, same selector as a string (parsed per query)']
  const filterCompiled = figures['Array.filter + compileLabelSelector, same 10,000 label sets']
  if (!ours || !filter || !text || !filterCompiled || sink < 0) throw new Error('missing figures')
  emit({
    ...ours,
    matches: found,
    target: TARGET_QUERIES_PER_S,
    met: ours.ops_per_s >= TARGET_QUERIES_PER_S,
  })
  emit(filter)
  emit(filterCompiled)
  emit(text)
  ratio('findNodes / Array.filter (same matcher)', ours, filter)
  ratio('findNodes / Array.filter (compiled matcher)', ours, filterCompiled)
  await registry.close()
}

async function onEtcd(): Promise<void> {
  if (spawnSync('etcd', ['--version'], { stdio: 'ignore' }).error !== undefined) {
    process.stdout.write(
      `${JSON.stringify({ skipped: 'etcd part: no etcd binary (Debian package etcd-server)' })}\n`,
    )
    return
  }
  const etcd = await startEtcd()
  try {
    await registrationsSeen(etcd.url)
    await heartbeatLoad(etcd)
  } finally {
    await etcd.stop()
  }
}

async function registrationsSeen(url: string): Promise<void> {
  const prefix = `/bench-${randomUUID()}`
  const writer = createNodeRegistry({
    ...QUIET,
    backend: createEtcdNodeRegistryBackend({ url, prefix }),
  })
  const reader = createNodeRegistry({
    ...QUIET,
    backend: createEtcdNodeRegistryBackend({ url, prefix }),
  })
  await Promise.all([writer.ready(), reader.ready()])
  let lastArrivedAt = 0
  const arrived = new Promise<void>((resolve) => {
    let seen = 0
    reader.watch((event) => {
      if (event.type !== 'registered') return
      seen++
      if (seen === REGISTRATIONS) {
        lastArrivedAt = performance.now()
        resolve()
      }
    })
  })
  const started = performance.now()
  // 64 registrations in flight at a time, as a fleet booting together would be.
  let next = 0
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (next < REGISTRATIONS) {
        const i = next++
        await writer.register(passport(`n-${i}`, { zone: `z${i % 10}` }))
      }
    }),
  )
  const registeredAt = performance.now()
  await arrived
  const ms = lastArrivedAt - started
  emit({
    name: 'etcd: 1,000 registrations (64 in flight) seen by a second instance',
    ops_per_s: Math.round((REGISTRATIONS * 1000) / ms),
    samples: 1,
    ms_until_last_seen: Math.round(ms),
    ms_until_last_registered: Math.round(registeredAt - started),
  })
  await writer.close()
  await reader.close()
}

async function heartbeatLoad(etcd: PrivateEtcd): Promise<void> {
  const prefix = `/bench-${randomUUID()}`
  const registry = createNodeRegistry({
    heartbeatIntervalMs: 10_000,
    ttlMs: 30_000,
    backend: createEtcdNodeRegistryBackend({ url: etcd.url, prefix }),
  })
  await registry.ready()
  for (let i = 0; i < REGISTRATIONS; i += 50) {
    await Promise.all(
      Array.from({ length: 50 }, (_, k) => registry.register(passport(`hb-${i + k}`, {}))),
    )
  }
  // Let the registrations' own heartbeats spread over the interval before measuring.
  await new Promise((resolve) => setTimeout(resolve, 2_000))
  const etcdBefore = etcd.cpuMs()
  const selfBefore = process.cpuUsage()
  const started = performance.now()
  await new Promise((resolve) => setTimeout(resolve, LOAD_WINDOW_MS))
  const wallMs = performance.now() - started
  const self = process.cpuUsage(selfBefore)
  const etcdMs = etcd.cpuMs() - etcdBefore
  const counts = registry.counts()
  emit({
    name: 'etcd: heartbeat load, 1,000 leases at a 10 s interval (share of one core)',
    ops_per_s: Math.round((REGISTRATIONS * 1000) / 10_000),
    samples: 1,
    window_s: Math.round(wallMs / 1000),
    etcd_cpu_percent: Math.round((etcdMs / wallMs) * 1000) / 10,
    process_cpu_percent: Math.round(((self.user + self.system) / 1000 / wallMs) * 1000) / 10,
    alive: counts.ALIVE,
    not_ready: counts.NOT_READY,
    offline: counts.OFFLINE,
  })
  await registry.close()
}

interface PrivateEtcd {
  url: string
  /** CPU time (user + system) etcd has used, ms. */
  cpuMs(): number
  stop(): Promise<void>
}

async function startEtcd(): Promise<PrivateEtcd> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-etcd-'))
  const url = `http://127.0.0.1:${ETCD_PORT}`
  const peer = `http://127.0.0.1:${ETCD_PORT + 10}`
  const child: ChildProcess = spawn(
    'etcd',
    [
      '--name',
      'bench',
      '--data-dir',
      join(dir, 'data'),
      '--listen-client-urls',
      url,
      '--advertise-client-urls',
      url,
      '--listen-peer-urls',
      peer,
      '--initial-advertise-peer-urls',
      peer,
      '--initial-cluster',
      `bench=${peer}`,
    ],
    { stdio: 'ignore' },
  )
  const ticks = 100 // USER_HZ on Linux
  const cpuMs = (): number => {
    const fields = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / ticks
  }
  const probe = createNodeRegistry({
    ...QUIET,
    backend: createEtcdNodeRegistryBackend({ url, prefix: '/probe', callTimeoutMs: 500 }),
  })
  const deadline = Date.now() + 20_000
  while (probe.health().status !== 'healthy' || !(await settled(probe))) {
    if (Date.now() > deadline) throw new Error(`etcd on ${url} did not start`)
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  await probe.close()
  return {
    url,
    cpuMs,
    async stop() {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      await exited
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

async function settled(registry: NodeRegistry): Promise<boolean> {
  return Promise.race([
    registry.ready().then(() => true),
    new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 200)),
  ])
}

function passport(name: string, labels: Record<string, string>): NodePassport {
  return {
    apiVersion: 'core.runtime/v1',
    kind: 'NodePassport',
    metadata: { uid: randomUUID(), name, nodeType: 'agent', labels },
    spec: { capabilities: { services: [{ name: 'bench.echo', version: '1.0.0' }] } },
  }
}
