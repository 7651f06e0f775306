/**
 * A private RabbitMQ node for tests that stop and start the broker: its own port, node name,
 * data and log folders, started by the test and stopped after it. Never the shared broker.
 */
import { execFile, spawn } from 'node:child_process'
import { chownSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { connect as tcpConnect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)
const SERVER = '/usr/sbin/rabbitmq-server'
const CTL = '/usr/sbin/rabbitmqctl'

/** True when this machine can start a private RabbitMQ node. */
export const canStartBroker: boolean = existsSync(SERVER) && existsSync(CTL)

export interface PrivateBroker {
  url: string
  stopApp(): Promise<void>
  startApp(): Promise<void>
  stop(): Promise<void>
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect({ host: '127.0.0.1', port })
    const done = (ok: boolean): void => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(500, () => done(false))
    socket.once('connect', () => done(true))
    socket.once('error', () => done(false))
  })
}

async function waitPort(port: number, open: boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs
  while ((await portOpen(port)) !== open) {
    if (Date.now() > end)
      throw new Error(`port ${port} not ${open ? 'open' : 'closed'} within ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 250))
  }
}

/** Starts a private node on `port` (dist port `port + 20000`) and waits until it accepts AMQP. */
export async function startPrivateBroker(port: number): Promise<PrivateBroker> {
  const dir = mkdtempSync(join(tmpdir(), 'mindbus-rmq-'))
  const node = `mindbus${port}@localhost`
  mkdirSync(join(dir, 'mnesia'))
  mkdirSync(join(dir, 'log'))
  writeFileSync(join(dir, 'enabled_plugins'), '[].\n')
  if (process.getuid?.() === 0) {
    // rabbitmq-server drops root for the rabbitmq user: that user must own the folders.
    const { stdout } = await run('id', ['-u', 'rabbitmq'])
    const { stdout: gid } = await run('id', ['-g', 'rabbitmq'])
    for (const p of [dir, join(dir, 'mnesia'), join(dir, 'log'), join(dir, 'enabled_plugins')]) {
      chownSync(p, Number(stdout.trim()), Number(gid.trim()))
    }
  }
  const env = {
    ...process.env,
    RABBITMQ_NODE_PORT: String(port),
    RABBITMQ_DIST_PORT: String(port + 20_000),
    RABBITMQ_NODENAME: node,
    RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
    RABBITMQ_LOG_BASE: join(dir, 'log'),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'),
    RABBITMQ_CONFIG_FILE: join(dir, 'none'),
  }
  const child = spawn(SERVER, [], { env, stdio: 'ignore', detached: true })
  child.unref()
  await waitPort(port, true, 150_000)
  const ctl = async (command: string): Promise<void> => {
    await run(CTL, ['-n', node, command], { env, timeout: 120_000 })
  }
  return {
    url: `amqp://guest:guest@127.0.0.1:${port}`,
    stopApp: async () => {
      await ctl('stop_app')
      await waitPort(port, false, 30_000)
    },
    startApp: async () => {
      await ctl('start_app')
      await waitPort(port, true, 120_000)
    },
    stop: async () => {
      await ctl('stop').catch(() => undefined)
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
