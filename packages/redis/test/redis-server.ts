/**
 * The Redis servers the tests use. The shared one is 127.0.0.1:6379 (or `CORE_TEST_REDIS_URL`);
 * every test gets its own random key prefix on it, so test files running in parallel never
 * share keys, and the keys are deleted when the file ends. Tests that restart Redis start a
 * private `redis-server` on a free port with a folder of their own ({@link startPrivateRedis}).
 *
 * When the shared server is unreachable the suites fail under `CI=true` and skip locally with
 * a message saying how to start it (as the PostgreSQL tests of storage-postgres do).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { probeServer } from '@core/contracts/testing'
import { Redis } from 'ioredis'

export const TEST_REDIS_URL: string = process.env.CORE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'

const START_HINT = 'start it with: redis-server --daemonize yes --port 6379 --bind 127.0.0.1'

const redis = await probeServer({
  name: 'Redis',
  url: TEST_REDIS_URL,
  hint: START_HINT,
  probe,
  tag: '@core/redis',
})

async function probe(url: string): Promise<string | undefined> {
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 2_000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  })
  client.on('error', () => {})
  try {
    await client.connect()
    await client.ping()
    return undefined
  } catch (error) {
    return error instanceof Error ? error.message : String(error)
  } finally {
    client.disconnect()
  }
}

const prefixes: string[] = []
let admin: Redis | undefined

/** A client of the tests' own on the shared server, for set-up and inspection. */
export function adminRedis(): Redis {
  admin ??= new Redis(TEST_REDIS_URL)
  return admin
}

/** A fresh key prefix on the shared server; its keys are deleted when the file ends. */
export function freshPrefix(): string {
  const prefix = `core-test:${randomBytes(6).toString('hex')}:`
  prefixes.push(prefix)
  return prefix
}

/** Deletes every key under `prefix` (SCAN, never KEYS). */
export async function deletePrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0'
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1_000)
    cursor = next
    if (found.length > 0) await redis.del(...found)
  } while (cursor !== '0')
}

async function cleanUp(): Promise<void> {
  const redis = adminRedis()
  for (const prefix of prefixes.splice(0)) await deletePrefix(redis, prefix)
  admin = undefined
  await redis.quit()
}

/**
 * `describe` that needs the shared server: runs `body` when it answers; otherwise registers one
 * failing test under CI, or skips with a console warning locally.
 */
export function describeWithRedis(name: string, body: () => void): void {
  redis.describe(name, body, cleanUp)
}

/** A private `redis-server` a test may stop and start again. */
export interface PrivateRedis {
  readonly url: string
  readonly port: number
  /** Starts it (again), with the same folder and settings; resolves when it answers. */
  start(): Promise<void>
  /** Stops it at once (SIGKILL: nothing is flushed beyond what `appendfsync` wrote). */
  kill(): Promise<void>
  /** Kills it and removes its folder. */
  destroy(): Promise<void>
}

/** Starts a private `redis-server` on a free port with its own folder and extra `args`. */
export async function startPrivateRedis(args: string[] = []): Promise<PrivateRedis> {
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'core-redis-'))
  let child: ChildProcess | undefined
  const url = `redis://127.0.0.1:${port}`
  const server: PrivateRedis = {
    url,
    port,
    async start() {
      child = spawn(
        'redis-server',
        ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', ...args],
        { stdio: 'ignore' },
      )
      const probeClient = new Redis(url, { lazyConnect: true, retryStrategy: () => null })
      probeClient.on('error', () => {})
      for (let i = 0; i < 100; i++) {
        try {
          await probeClient.connect()
          await probeClient.ping()
          probeClient.disconnect()
          return
        } catch {
          probeClient.disconnect()
          await new Promise((resolve) => setTimeout(resolve, 50))
        }
      }
      throw new Error(`redis-server on port ${port} did not start`)
    },
    async kill() {
      const running = child
      child = undefined
      if (running === undefined || running.exitCode !== null) return
      const exited = new Promise((resolve) => running.once('exit', resolve))
      running.kill('SIGKILL')
      await exited
    },
    async destroy() {
      await server.kill()
      rmSync(dir, { recursive: true, force: true })
    },
  }
  await server.start()
  return server
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer()
    probe.once('error', reject)
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address()
      probe.close(() => resolve(typeof address === 'object' && address ? address.port : 0))
    })
  })
}
