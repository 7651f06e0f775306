#!/usr/bin/env node
/**
 * `pnpm cluster`: three hubs on this machine, one cluster. Each is `main.js` in a child process
 * with its own HTTP port (8081, 8082, 8083), data folder (`./data/cluster/hub-<n>`), node name
 * (`hub-<n>`) and room label (hall, kitchen, garage), all on the RabbitMQ of `CORE_AMQP_URL`
 * (default `amqp://guest:guest@127.0.0.1:5672`) and, when `CORE_ETCD_URL` is set, one etcd;
 * without it they learn each other's passports over MindBus. Their output is prefixed with
 * the hub's name; Ctrl+C stops all three gracefully.
 *
 * Environment: `CORE_CLUSTER_SIZE` (1–9, default 3), `CORE_CLUSTER_PORT` (the first port,
 * default 8081), `CORE_CLUSTER_DIR` (the parent of the data folders, default `./data/cluster`), and every `CORE_*` variable of the hub, given to all of them (e.g.
 * `CORE_ADMIN_TOKEN`, so that one token works on every hub).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { APP_DIR } from './config.js'

const ROOMS = ['hall', 'kitchen', 'garage', 'attic', 'cellar', 'office', 'porch', 'loft', 'shed']
const size = Math.min(9, Math.max(1, Number(process.env.CORE_CLUSTER_SIZE ?? 3) || 3))
const firstPort = Number(process.env.CORE_CLUSTER_PORT ?? 8081) || 8081
const amqpUrl = process.env.CORE_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672'
// Built: dist/main.js; from source (node --import tsx src/run-cluster.ts): src/main.ts, same loader.
const main = fileURLToPath(
  new URL(import.meta.url.endsWith('.ts') ? './main.ts' : './main.js', import.meta.url),
)
const shipped = JSON.parse(await readFile(join(APP_DIR, 'hub.config.json'), 'utf8')) as {
  config?: unknown
  mqtt?: Record<string, unknown>
}

const children: ChildProcess[] = []
for (let n = 1; n <= size; n++) {
  const name = `hub-${n}`
  const dir = resolve(process.env.CORE_CLUSTER_DIR ?? join('data', 'cluster'), name)
  await mkdir(dir, { recursive: true })
  const config = join(dir, 'hub.config.json')
  await writeFile(
    config,
    JSON.stringify(
      {
        dataDir: '.',
        pluginDirs: [join(APP_DIR, 'plugins')],
        config: shipped.config,
        http: { port: firstPort + n - 1 },
        mqtt: { ...shipped.mqtt, prefix: `core/${name}` },
        node: { name, labels: { room: ROOMS[n - 1] as string } },
        mindbus: { events: { export: ['hello.#'], import: ['hello.#'] } },
      },
      null,
      2,
    ),
  )
  const child = spawn(process.execPath, [...process.execArgv, main, '--config', config], {
    env: { ...process.env, CORE_AMQP_URL: amqpUrl },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const prefix = (stream: NodeJS.WritableStream) => (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n'))
      if (line !== '') stream.write(`[${name}] ${line}\n`)
  }
  child.stdout?.on('data', prefix(process.stdout))
  child.stderr?.on('data', prefix(process.stderr))
  child.on('exit', (code) => process.stdout.write(`[${name}] exited (${code})\n`))
  children.push(child)
}

let stopping = false
const stop = (signal: NodeJS.Signals): void => {
  if (stopping) return
  stopping = true
  for (const child of children) child.kill(signal)
}
process.on('SIGINT', () => stop('SIGINT'))
process.on('SIGTERM', () => stop('SIGTERM'))
const codes = await Promise.all(
  children.map(
    (child) => new Promise<number>((done) => child.on('exit', (code) => done(code ?? 1))),
  ),
)
process.exit(codes.every((c) => c === 0) ? 0 : 1)
