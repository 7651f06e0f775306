/**
 * The hub's start-and-stop of the pack check: `core start` from an installed consumer, its
 * `/health`, then Ctrl+C (SIGINT) and exit code 0.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { join } from 'node:path'

/** MQTT broker address where nothing listens: the hub starts without a broker (it waits ~2 s). */
const NO_BROKER = 'mqtt://127.0.0.1:9'

/** The `core` bins to try in a consumer that installed `@core/hub` and `@core/cli`. */
export function hubStarts(dir: string, manager: 'npm' | 'pnpm'): { what: string; bin: string }[] {
  const starts = [
    // Whichever `core` the package manager linked: both packages declare it.
    { what: 'node_modules/.bin/core start', bin: join(dir, 'node_modules', '.bin', 'core') },
    // @core/cli's own bin: finds @core/hub in the working directory's project.
    {
      what: "@core/cli's core start (finds the project's @core/hub)",
      bin: join(dir, 'node_modules', '@core', 'cli', 'dist', 'bin.js'),
    },
  ]
  if (manager === 'npm') {
    // The hub's own bin file, as `npm i -g @core/hub` links it.
    starts.push({
      what: "@core/hub's core start",
      bin: join(dir, 'node_modules', '@core', 'hub', 'dist', 'bin.js'),
    })
  }
  return starts
}

/**
 * Runs `<core> start` in `cwd` with a fresh data folder, HTTP on a free port (`CORE_HTTP_PORT=0`,
 * read back from the start line) and no MQTT broker; waits for "Press Ctrl+C", asks `/health`
 * (200 expected), sends SIGINT and resolves with the exit code (0 expected) and the output.
 */
export function startAndStop(
  core: string,
  cwd: string,
  timeoutMs = 120_000,
): Promise<{ code: number | null; output: string }> {
  return new Promise((done) => {
    const child = spawn(core, ['start'], {
      cwd,
      env: {
        ...process.env,
        CORE_HTTP_PORT: '0',
        CORE_DATA_DIR: mkdtempSync(join(cwd, 'data-')),
        CORE_MQTT_URL: NO_BROKER,
        CORE_LOG_LEVEL: 'warn',
        CORE_HUB_MODULE: '',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let output = ''
    let asked = false
    let healthy = false
    const timer = setTimeout(() => {
      output += `\n[pack-check: no clean start and stop within ${timeoutMs} ms]`
      child.kill('SIGKILL')
    }, timeoutMs)
    const onData = (chunk: Buffer): void => {
      output += chunk
      if (asked || !output.includes('Press Ctrl+C')) return
      asked = true
      const url = /^http: (http:\/\/\S+)/m.exec(output)?.[1]
      fetch(`${url ?? 'http://no-http-line.invalid'}/health`)
        .then((res) => {
          output += `\n[pack-check: GET ${url}/health → ${res.status}]\n`
          healthy = res.status === 200
        })
        .catch((error: unknown) => {
          output += `\n[pack-check: /health failed: ${String(error)}]\n`
        })
        .finally(() => child.kill('SIGINT'))
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', onData)
    child.on('close', (code) => {
      clearTimeout(timer)
      done({ code: healthy ? code : code === 0 ? 1 : code, output })
    })
  })
}
