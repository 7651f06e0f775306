/**
 * The real `core` binary, spawned as a child process (`node --import tsx src/bin.ts`, run from
 * the repository root so that tsx maps `@core/*` to sources), against a real hub listening on
 * 127.0.0.1: one spawned run per exit-code family (0, 2, 3, 4, 5, 7), Ctrl+C (SIGINT) ending
 * `events tail` and `core start`. Every command's behaviour is tested in process, against the
 * same kind of hub, in cli.hub.test.ts.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { ADMIN_TOKEN, freePort, runCore, startTestHub, type TestHub } from './support/hub.js'

const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
const BIN = fileURLToPath(new URL('../src/bin.ts', import.meta.url))
const HUB_MODULE = fileURLToPath(new URL('./fixtures/hub-module.ts', import.meta.url))
const SLOW = 120_000

let hub: TestHub

beforeAll(async () => {
  hub = await startTestHub()
})

afterAll(async () => {
  await hub?.close()
})

interface Spawned {
  child: ChildProcess
  stdout: () => string
  stderr: () => string
  /** Resolves with the exit code (a signal death is reported as 128 + number). */
  exited: Promise<number>
}

/** Starts `core …` with CORE_URL and CORE_TOKEN pointing at the test hub (unless overridden). */
function start(args: string[], env: Record<string, string | undefined> = {}): Spawned {
  const childEnv: Record<string, string | undefined> = { ...process.env }
  for (const name of Object.keys(childEnv)) if (name.startsWith('CORE_')) delete childEnv[name]
  Object.assign(childEnv, { CORE_URL: hub.url, CORE_TOKEN: ADMIN_TOKEN, NO_COLOR: '1' }, env)
  for (const [name, value] of Object.entries(childEnv))
    if (value === undefined) delete childEnv[name]
  const child = spawn(process.execPath, ['--import', 'tsx', BIN, ...args], {
    cwd: ROOT,
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  let err = ''
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (out += chunk))
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (err += chunk))
  const exited = once(child, 'close').then(([code, signal]) =>
    typeof code === 'number'
      ? code
      : 128 + (signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 9),
  )
  return { child, stdout: () => out, stderr: () => err, exited }
}

/** Runs `core …` to the end. */
async function core(args: string[], env: Record<string, string | undefined> = {}) {
  const run = start(args, env)
  const code = await run.exited
  return { code, stdout: run.stdout(), stderr: run.stderr() }
}

describe('the core binary', () => {
  it(
    'exits 0, 2, 3, 4, 5 and 7 as its exit-code families say, with the message on stderr',
    async () => {
      await hub.kernel.state.set('devices', 'light.bin', { on: true })
      const port = await freePort()
      const [ok, usage, unknown, wrongToken, conflict, unreachable] = await Promise.all([
        core(['call', 'lights.set', '-p', 'room=hall', '-p', 'on=false', '--json']),
        core(['call', 'lights.set', '{room:kitchen}']),
        core(['call', 'lights.explode']),
        core(['state', 'list', 'devices'], { CORE_TOKEN: 'core_0000000000000000_wrong' }),
        core(['state', 'set', 'devices', 'light.bin', '{"on":false}', '--if-revision', '7']),
        core(['health', '--url', `http://127.0.0.1:${port}`]),
      ])
      expect(ok.stderr).toBe('')
      expect(ok.code).toBe(0)
      expect(ok.stdout).toBe('{"room":"hall","on":false}\n')
      expect(usage.code).toBe(2)
      expect(usage.stderr).toMatch(/^error E_VALIDATION: <json> is not valid JSON/)
      expect(unknown.code).toBe(3)
      expect(unknown.stderr).toMatch(/^error E_SERVICE_NOT_FOUND: .*lights\.explode/)
      expect(wrongToken.code).toBe(4)
      expect(wrongToken.stderr).toMatch(/^error E_UNAUTHENTICATED: /)
      expect(conflict.code).toBe(5)
      expect(conflict.stderr).toMatch(/^error E_CONFLICT: /)
      expect(unreachable.code).toBe(7)
      expect(unreachable.stderr).toMatch(
        new RegExp(
          `^error E_UNAVAILABLE: Cannot reach the hub at http://127\\.0\\.0\\.1:${port} \\(ECONNREFUSED`,
        ),
      )
    },
    SLOW,
  )

  it(
    'events tail prints matching events until SIGINT, then exits 0',
    async () => {
      const tail = start(['events', 'tail', 'demo.#'])
      try {
        // The subscription is live once an event published now reaches the child.
        let n = 0
        await vi.waitFor(
          () => {
            void hub.kernel.bus.publish('demo.ping', { n: n++ }, { wait: false })
            void hub.kernel.bus.publish('other.ping', { ignored: true }, { wait: false })
            expect(tail.stdout()).toContain('demo.ping')
          },
          { timeout: 90_000, interval: 100 },
        )
        tail.child.kill('SIGINT')
        expect(await tail.exited).toBe(0)
        expect(tail.stdout()).not.toContain('other.ping')
        expect(tail.stderr()).toBe('')
      } finally {
        tail.child.kill('SIGKILL')
      }
    },
    SLOW,
  )

  it(
    'start runs the hub module CORE_HUB_MODULE names with --config until SIGINT, serving core commands meanwhile',
    async () => {
      const config = join(tmpdir(), `core-cli-start-${process.pid}.json`)
      await writeFile(config, JSON.stringify({ port: 0, adminToken: ADMIN_TOKEN }))
      const started = start(['start', '--config', config], { CORE_HUB_MODULE: HUB_MODULE })
      try {
        const hubUrl = await vi.waitFor(
          () => {
            const match = /listening (\S+)\n/.exec(started.stdout())
            expect(match).not.toBeNull()
            return (match as RegExpExecArray)[1] as string
          },
          { timeout: 90_000, interval: 100 },
        )
        const call = await runCore(hubUrl, [
          'call',
          'lights.set',
          '-p',
          'room=started',
          '-p',
          'on=true',
        ])
        expect(call.code).toBe(0)
        expect(JSON.parse(call.stdout)).toEqual({ room: 'started', on: true })
        started.child.kill('SIGINT')
        expect(await started.exited).toBe(0)
        expect(started.stdout()).toContain('stopped\n')
      } finally {
        started.child.kill('SIGKILL')
      }
    },
    SLOW,
  )
})
