import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { APP, closedPort, ROOT, stagePlugins, stageProbe, writeHubConfig } from './helpers.js'

/**
 * Boots the real hub main module (apps/hub/src/main.ts) in a child process through tsx, with
 * the root tsconfig paths mapping @core/* to the packages' sources (no build needed), on a
 * temporary data folder.
 */
interface Run {
  child: ChildProcess
  stdout: () => string
  stderr: () => string
  exited: Promise<number | null>
}

function runHub(args: string[], env: Record<string, string> = {}): Run {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'apps/hub/src/main.ts'), ...args],
    {
      cwd: ROOT,
      env: {
        ...withoutCoreVariables(process.env),
        TSX_TSCONFIG_PATH: join(ROOT, 'tsconfig.json'),
        CORE_LOG_LEVEL: 'warn',
        // A free HTTP port, and no broker: these tests are about the boot, not MQTT.
        CORE_HTTP_PORT: '0',
        CORE_MQTT_URL: `mqtt://127.0.0.1:${deadPort}`,
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  let out = ''
  let err = ''
  child.stdout?.on('data', (chunk: Buffer) => {
    out += chunk.toString()
  })
  child.stderr?.on('data', (chunk: Buffer) => {
    err += chunk.toString()
  })
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  return { child, stdout: () => out, stderr: () => err, exited }
}

async function until(run: Run, text: string, timeoutMs = 45_000): Promise<void> {
  const started = Date.now()
  while (!run.stdout().includes(text)) {
    if (run.child.exitCode !== null) {
      throw new Error(
        `hub exited (${run.child.exitCode}) before printing "${text}"\nstdout:\n${run.stdout()}\nstderr:\n${run.stderr()}`,
      )
    }
    if (Date.now() - started > timeoutMs) {
      run.child.kill('SIGKILL')
      throw new Error(
        `hub did not print "${text}" within ${timeoutMs} ms\nstdout:\n${run.stdout()}\nstderr:\n${run.stderr()}`,
      )
    }
    await new Promise((r) => setTimeout(r, 50))
  }
}

const probeLine = (out: string): unknown => {
  const line = out.split('\n').find((l) => l.startsWith('PROBE '))
  return line === undefined ? undefined : JSON.parse(line.slice(6))
}

function withoutCoreVariables(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([name]) => !name.startsWith('CORE_')))
}

let dir: string
let deadPort: number
beforeAll(async () => {
  deadPort = await closedPort()
  dir = await mkdtemp(join(tmpdir(), 'hub-e2e-'))
  await stagePlugins(dir)
  await stageProbe(dir)
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('the hub main module', () => {
  it('boots the plugins, prints what started, stops cleanly on SIGTERM, and keeps devices and rules across a restart on SIGINT', async () => {
    const config = await writeHubConfig(dir, {
      pluginDirs: ['./plugins'],
      config: { probe: { step: 'seed' } },
    })
    const dataDir = join(dir, 'data')

    const first = runHub(['--config', config], { CORE_DATA_DIR: dataDir })
    await until(first, 'Press Ctrl+C to stop.')
    const out = first.stdout()
    expect(out).toContain(`config ${config}`)
    expect(out).toContain(`storage: sqlite ${join(dataDir, 'hub.db')}`)
    for (const name of ['hello', 'devices', 'automation', 'zigbee2mqtt', 'probe'])
      expect(out).toMatch(new RegExp(`^${name}\\s+\\S+\\s+started`, 'm'))
    expect(out).toContain('5 started, 0 failed, 0 skipped')
    expect(probeLine(out)).toEqual({ seeded: true })
    expect(existsSync(join(dataDir, 'hub.db'))).toBe(true)
    first.child.kill('SIGTERM')
    expect(await first.exited).toBe(0)
    expect(first.stdout()).toMatch(/Hub stopped \(SIGTERM\): 5 plugin\(s\) stopped/)

    await writeHubConfig(dir, { pluginDirs: ['./plugins'], config: { probe: { step: 'check' } } })
    const second = runHub(['--config', config], { CORE_DATA_DIR: dataDir })
    await until(second, 'Press Ctrl+C to stop.')
    expect(probeLine(second.stdout())).toEqual({
      before: { on: false, brightness: 120 },
      after: { on: true, brightness: 120 },
      rules: ['door-light'],
    })
    second.child.kill('SIGINT')
    expect(await second.exited).toBe(0)
    expect(second.stdout()).toMatch(/Hub stopped \(SIGINT\)/)
  }, 120_000)

  it('boots the shipped config with no broker: serves HTTP, health degraded, prints the first admin token once', async () => {
    // The shipped hub.config.json, on the staged (unbuilt) plugins.
    const shipped = JSON.parse(await readFile(join(APP, 'hub.config.json'), 'utf8')) as object
    const fresh = join(dir, 'fresh')
    await stagePlugins(fresh)
    const config = await writeHubConfig(fresh, { ...shipped, pluginDirs: ['./plugins'] })
    const port = await closedPort()
    const env = { CORE_DATA_DIR: join(fresh, 'data'), CORE_HTTP_PORT: String(port) }

    const first = runHub(['--config', config], env)
    await until(first, 'Press Ctrl+C to stop.')
    const out = first.stdout()
    const url = `http://127.0.0.1:${port}`
    expect(out).toContain(`http: ${url} (auth on) · docs ${url}/docs`)
    expect(out).toMatch(
      new RegExp(
        `^mqtt: mqtt://127\\.0\\.0\\.1:${deadPort} NOT connected \\(connect ECONNREFUSED 127\\.0\\.0\\.1:${deadPort}; no connection within 2000 ms\\), retrying in the background`,
        'm',
      ),
    )
    expect(out).toMatch(/^zigbee2mqtt\s+0\.1\.0\s+started/m)
    expect(out).toContain('4 started, 0 failed, 0 skipped')
    expect(out).toContain('health: degraded')
    const token = /^Admin token \(shown once, store it\): (\S+)$/m.exec(out)?.[1] as string
    expect(token).toMatch(/^core_/)

    const health = await fetch(`${url}/health`)
    expect(health.status).toBe(200)
    expect(await health.json()).toMatchObject({
      status: 'degraded',
      components: { mqtt: { status: 'degraded' } },
    })
    const docs = await fetch(`${url}/docs`, { redirect: 'manual' })
    expect(docs.status).toBeLessThan(400)
    expect(
      (await fetch(`${url}/api/v1/plugins`, { headers: { authorization: `Bearer ${token}` } }))
        .status,
    ).toBe(200)
    first.child.kill('SIGTERM')
    expect(await first.exited).toBe(0)

    const second = runHub(['--config', config], env)
    await until(second, 'Press Ctrl+C to stop.')
    expect(second.stdout()).not.toContain('Admin token')
    expect(second.stdout()).not.toContain(token)
    second.child.kill('SIGINT')
    expect(await second.exited).toBe(0)
  }, 120_000)

  it('exits with 2 and a message naming the file and field for a bad config, and 1 when a required plugin fails', async () => {
    const bad = join(dir, 'bad.yaml')
    await writeFile(bad, 'logLevel: loud\n')
    const run = runHub(['--config', bad])
    expect(await run.exited).toBe(2)
    expect(run.stderr()).toContain(
      `core-hub: Invalid hub config file ${bad}: /logLevel must be equal to one of the allowed values`,
    )

    const failing = join(dir, 'failing.json')
    await writeFile(
      failing,
      JSON.stringify({
        pluginDirs: ['./plugins'],
        required: ['hello'],
        config: { hello: { greeting: '' } },
      }),
    )
    const boot = runHub(['--config', failing], { CORE_DATA_DIR: join(dir, 'data-failing') })
    expect(await boot.exited).toBe(1)
    expect(boot.stderr()).toMatch(/core-hub: the hub did not start: .*hello/)
  }, 120_000)
})
