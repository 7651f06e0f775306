import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ROOT, stagePlugins, stageProbe, writeHubConfig } from './helpers.js'

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
        ...process.env,
        TSX_TSCONFIG_PATH: join(ROOT, 'tsconfig.json'),
        CORE_LOG_LEVEL: 'warn',
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

let dir: string
beforeAll(async () => {
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
    for (const name of ['hello', 'devices', 'automation', 'probe'])
      expect(out).toMatch(new RegExp(`^${name}\\s+\\S+\\s+started`, 'm'))
    expect(out).toContain('4 started, 0 failed, 0 skipped')
    expect(probeLine(out)).toEqual({ seeded: true })
    expect(existsSync(join(dataDir, 'hub.db'))).toBe(true)
    first.child.kill('SIGTERM')
    expect(await first.exited).toBe(0)
    expect(first.stdout()).toMatch(/Hub stopped \(SIGTERM\): 4 plugin\(s\) stopped/)

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
