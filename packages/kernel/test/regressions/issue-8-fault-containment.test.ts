import { describe, expect, it } from 'vitest'
import { tempDir, writePlugin } from '../helpers.js'
import { runFixture } from './run-fixture.js'

// Issue 8: a stray rejection, a throw in a plain setTimeout, an unhandled 'error' event or
// process.exit() in one plugin ended the hub; a busy loop in setup hung boot forever.
// Each case runs a kernel with `containFaults: true` in a child process.

interface Run {
  code: number | null
  signal: NodeJS.Signals | null
  lines: Array<Record<string, unknown>>
  stderr: string
}

async function run(code: string, mode = 'fault'): Promise<Run> {
  const dir = await writePlugin(await tempDir(), 'bad', { code })
  const { code: exitCode, signal, stdout, stderr } = await runFixture('fault-hub.ts', [dir, mode])
  const lines = stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
  return { code: exitCode, signal, lines, stderr }
}

function expectContained(result: Run, why: string): void {
  expect(result.code, result.stderr).toBe(0)
  const last = result.lines.at(-1) as { plugin: { state: string; error: string } }
  expect(last.plugin.state).toBe('failed')
  expect(last.plugin.error).toContain(why)
}

describe('issue 8: one plugin fault does not end the hub (containFaults)', () => {
  it('should fail the plugin, not the hub, on a stray rejected promise', async () => {
    const result = await run(`export default { start() {
      setTimeout(() => { Promise.reject(new Error('stray rejection')) }, 20)
    } }\n`)
    expectContained(result, 'unhandled rejection: stray rejection')
  }, 60_000)

  it('should fail the plugin, not the hub, on a throw in a plain setTimeout', async () => {
    const result = await run(`export default { start() {
      setTimeout(() => { throw new Error('timer throw') }, 20)
    } }\n`)
    expectContained(result, 'uncaught exception: timer throw')
  }, 60_000)

  it("should fail the plugin, not the hub, on an unhandled 'error' event", async () => {
    const result = await run(`import { EventEmitter } from 'node:events'
    export default { start() {
      const emitter = new EventEmitter()
      setTimeout(() => emitter.emit('error', new Error('nobody listens')), 20)
    } }\n`)
    expectContained(result, 'nobody listens')
  }, 60_000)

  it('should refuse process.exit() from a handler and fail the plugin', async () => {
    const result = await run(
      `export default { setup(ctx) {
        ctx.services.register('bad.quit', () => { process.exit(3) }, { params: {} })
      } }\n`,
      'exit',
    )
    expect(result.lines[0]).toEqual({ call: 'E_FORBIDDEN' })
    expectContained(result, 'process.exit(3)')
  }, 60_000)

  it('should report unhealthy with the measured stall after the event loop was blocked', async () => {
    const result = await run(
      `export default { setup(ctx) {
        ctx.services.register('bad.spin', () => {
          const end = Date.now() + 1500
          while (Date.now() < end) {}
          return null
        }, { params: {} })
      } }\n`,
      'stall',
    )
    expect(result.code, result.stderr).toBe(0)
    const last = result.lines.at(-1) as {
      status: string
      faults: { status: string; details: { reason: string } }
    }
    expect(last.status).toBe('unhealthy')
    expect(last.faults.status).toBe('unhealthy')
    expect(last.faults.details.reason).toMatch(/the event loop stalled for \d+ ms/)
  }, 60_000)

  it('should end a boot stuck in a busy setup with an error naming the plugin and step', async () => {
    const result = await run('export default { setup() { for (;;) {} } }\n')
    expect(result.signal).toBe('SIGKILL')
    expect(result.stderr).toContain('Plugin \\"bad\\" blocked the event loop')
    expect(result.stderr).toContain('during setup()')
  }, 60_000)
})
