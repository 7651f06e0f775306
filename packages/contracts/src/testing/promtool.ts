import { spawn, spawnSync } from 'node:child_process'

/**
 * True when Prometheus's `promtool` is on the PATH (Debian package `prometheus`).
 * @public
 */
export const HAVE_PROMTOOL: boolean =
  spawnSync('promtool', ['--version'], { stdio: 'ignore' }).status === 0

/**
 * Runs `promtool check metrics` on a Prometheus text exposition.
 * @param text - The exposition (what `registry.metrics()` returns).
 * @returns promtool's exit code and its output (empty when the text is clean).
 * @throws Error when promtool is not installed (say how to install it).
 * @see Prometheus text exposition format 0.0.4
 * @public
 */
export async function promtoolCheckMetrics(
  text: string,
): Promise<{ code: number | null; output: string }> {
  if (!HAVE_PROMTOOL) {
    throw new Error(
      'promtool is required: install the Debian package `prometheus` (apt-get install -y prometheus)',
    )
  }
  return new Promise((resolve, reject) => {
    const child = spawn('promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString()
    })
    child.stderr.on('data', (d: Buffer) => {
      output += d.toString()
    })
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, output }))
    child.stdin.end(text)
  })
}
