import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

// Issue 9: every kernel timer is unref'd, so with a plugin whose stop() never settles and
// nothing else keeping the process alive, Node exited (code 13, unsettled top-level await)
// before kernel.stop() reached its deadline. Runs in a child process: only there can the
// event loop run empty.

const root = fileURLToPath(new URL('../../../..', import.meta.url))
const hub = fileURLToPath(new URL('../fixtures/hanging-stop-hub.ts', import.meta.url))

function run(): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', hub], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString()
    })
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    const guard = setTimeout(() => child.kill('SIGKILL'), 45_000)
    child.on('error', reject)
    child.on('exit', (code) => {
      clearTimeout(guard)
      resolve({ code, stdout, stderr })
    })
  })
}

describe('issue 9: kernel.stop() reaches its deadline in an otherwise idle process', () => {
  it('should resolve with the stuck plugin failed as timed out, and the process exits 0 on its own', async () => {
    const result = await run()
    expect(result.code, result.stderr).toBe(0)
    const report = JSON.parse(result.stdout.trim()) as {
      stopped: string[]
      failed: Array<{ name: string; step: string; error: { code: string; message: string } }>
    }
    expect(report.stopped).toEqual([])
    expect(report.failed).toHaveLength(1)
    expect(report.failed[0]).toMatchObject({
      name: 'stuck',
      step: 'stop',
      error: { code: 'E_PLUGIN_LIFECYCLE', details: { cause: 'E_TIMEOUT' } },
    })
    expect(report.failed[0]?.error.message).toMatch(/did not finish within \d+ ms/)
  }, 60_000)
})
