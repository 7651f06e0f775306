/**
 * The real etcd the tests use: `CORE_TEST_ETCD_URL` or http://127.0.0.1:2379. Each test gets
 * a fresh key prefix, deleted when the file's tests end.
 *
 * When etcd is unreachable the suites fail under `CI=true` and skip locally with a message
 * saying how to start it. Tests that stop or pause etcd start a private one (see
 * `startPrivateEtcd`), never the shared server.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { probeServer } from '@core/contracts/testing'
import { Etcd3 } from 'etcd3'

export const ETCD_URL: string = process.env.CORE_TEST_ETCD_URL ?? 'http://127.0.0.1:2379'

const START_HINT =
  'start it with: etcd --data-dir /tmp/etcd --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 (Debian package etcd-server)'

const etcd = await probeServer({
  name: 'etcd',
  url: ETCD_URL,
  hint: START_HINT,
  probe,
  tag: 'node-registry-etcd',
})

async function probe(url: string): Promise<string | undefined> {
  const client = new Etcd3({
    hosts: url,
    dialTimeout: 2_000,
    defaultCallOptions: () => ({ deadline: Date.now() + 2_000 }),
  })
  try {
    await client.get('/core-probe').string()
    return undefined
  } catch (error) {
    return error instanceof Error ? error.message : String(error)
  } finally {
    client.close()
  }
}

/**
 * `describe` that needs etcd: runs `body` when it answers; otherwise one failing test under
 * CI, or a skip with a console warning locally.
 */
export function describeWithEtcd(name: string, body: () => void): void {
  etcd.describe(name, body, deleteCreatedPrefixes)
}

const created: string[] = []

/** A new key prefix, deleted with everything under it when the enclosing block ends. */
export function freshPrefix(): string {
  const prefix = `/core-test-${randomBytes(6).toString('hex')}`
  created.push(prefix)
  return prefix
}

async function deleteCreatedPrefixes(): Promise<void> {
  const client = new Etcd3({ hosts: ETCD_URL })
  try {
    for (const prefix of created.splice(0)) await client.delete().prefix(`${prefix}/`)
  } finally {
    client.close()
  }
}

/** A private etcd on its own ports and data dir, for tests that stop, pause or restart it. */
export interface PrivateEtcd {
  readonly url: string
  /** SIGKILL etcd (the data dir stays). */
  kill(): Promise<void>
  /** Starts etcd again on the same ports and data dir; resolves when it answers. */
  start(): Promise<void>
  /** Kills it and deletes its data dir. */
  dispose(): Promise<void>
}

/**
 * Starts a private etcd on 127.0.0.1:`clientPort` (peer port `clientPort + 10`) with a data
 * dir under the system temp folder; resolves when it answers.
 */
export async function startPrivateEtcd(clientPort = 23790): Promise<PrivateEtcd> {
  const dataDir = mkdtempSync(join(tmpdir(), 'core-etcd-'))
  const url = `http://127.0.0.1:${clientPort}`
  const peer = `http://127.0.0.1:${clientPort + 10}`
  let child: ChildProcess | undefined
  const start = async (): Promise<void> => {
    child = spawn(
      'etcd',
      [
        '--name',
        'private',
        '--data-dir',
        dataDir,
        '--listen-client-urls',
        url,
        '--advertise-client-urls',
        url,
        '--listen-peer-urls',
        peer,
        '--initial-advertise-peer-urls',
        peer,
        '--initial-cluster',
        `private=${peer}`,
      ],
      { stdio: 'ignore' },
    )
    const deadline = Date.now() + 20_000
    while ((await probe(url)) !== undefined) {
      if (Date.now() > deadline) throw new Error(`private etcd on ${url} did not start`)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
  const kill = async (): Promise<void> => {
    const running = child
    child = undefined
    if (running === undefined || running.exitCode !== null) return
    const exited = new Promise((resolve) => running.once('exit', resolve))
    running.kill('SIGKILL')
    await exited
  }
  await start()
  return {
    url,
    kill,
    start,
    async dispose() {
      await kill()
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}
