import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../../../..', import.meta.url))

/** How a fixture process ended and what it printed. */
export interface FixtureRun {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

/**
 * Runs `packages/kernel/test/fixtures/<fixture>` in a child process (`node --import tsx`, from
 * the repository root) with `args`, and resolves when it exits. A fixture that hangs (the
 * failure these regressions guard against) is killed after `killAfterMs` (ms).
 */
export function runFixture(
  fixture: string,
  args: readonly string[] = [],
  killAfterMs = 45_000,
): Promise<FixtureRun> {
  const script = fileURLToPath(new URL(`../fixtures/${fixture}`, import.meta.url))
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
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
    const guard = setTimeout(() => child.kill('SIGKILL'), killAfterMs)
    child.on('error', reject)
    child.on('exit', (code, signal) => {
      clearTimeout(guard)
      resolve({ code, signal, stdout, stderr })
    })
  })
}
