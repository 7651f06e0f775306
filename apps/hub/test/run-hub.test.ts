import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { silentLogger } from '@core/contracts'
import pino from 'pino'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import * as hubModule from '../src/index.js'
import { createHubLogger } from '../src/logger.js'
import { runHub } from '../src/run-hub.js'
import { closedPort, stagePlugins, writeHubConfig } from './helpers.js'

let dir: string
let config: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hub-run-'))
  await stagePlugins(dir)
  config = await writeHubConfig(dir, {
    pluginDirs: ['./plugins'],
    mqtt: { startWaitMs: 100 },
  })
})
afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

/** Collects what runHub prints. */
function sink(): { write(text: string): void; text: () => string } {
  let out = ''
  return {
    write: (text: string) => {
      out += text
    },
    text: () => out,
  }
}

const baseEnv = async (): Promise<Record<string, string>> => ({
  CORE_DATA_DIR: join(dir, 'data'),
  CORE_HTTP_PORT: '0',
  CORE_MQTT_URL: `mqtt://127.0.0.1:${await closedPort()}`,
})

describe('runHub', () => {
  it('boots, prints the summary with the URLs and the first admin token, and returns 0 when stopped', async () => {
    const stdout = sink()
    const stderr = sink()
    const stop = new AbortController()
    const done = runHub({
      config,
      env: await baseEnv(),
      stdout,
      stderr,
      signal: stop.signal,
      logger: silentLogger,
    })
    for (let i = 0; i < 400 && !stdout.text().includes('Press Ctrl+C'); i++)
      await new Promise((r) => setTimeout(r, 25))
    const out = stdout.text()
    expect(out).toMatch(
      /^http: http:\/\/127\.0\.0\.1:\d+ \(auth on\) · docs http:\/\/127\.0\.0\.1:\d+\/docs$/m,
    )
    expect(out).toMatch(/^mqtt: mqtt:\/\/127\.0\.0\.1:\d+ NOT connected/m)
    expect(out).toContain(
      'security: no operator policy (manifest grants and token scopes decide) · messages unsigned (no "signing" section)',
    )
    expect(out).toMatch(/^Admin token \(shown once, store it\): core_[0-9a-f]{16}_\S{43}$/m)
    expect(out).toContain('4 started, 0 failed, 0 skipped')
    const url = /^http: (\S+)/m.exec(out)?.[1] as string
    expect((await fetch(`${url}/health`)).status).toBe(200)
    stop.abort()
    expect(await done).toBe(0)
    expect(stdout.text()).toMatch(
      /Stopping \(abort\)…\nHub stopped \(abort\): 4 plugin\(s\) stopped/,
    )
    expect(stderr.text()).toBe('')
    expect(process.listenerCount('SIGINT')).toBe(0)
  })

  it('returns 2 for a bad environment or auth off on a public address, before anything starts', async () => {
    const stderr = sink()
    expect(
      await runHub({ config, env: { CORE_HTTP_PORT: 'eighty' }, stderr, stdout: sink() }),
    ).toBe(2)
    expect(stderr.text()).toMatch(
      /^core-hub: Invalid environment: CORE_HTTP_PORT must be a TCP port/,
    )
    const auth = sink()
    expect(
      await runHub({
        config,
        env: { CORE_AUTH: 'off', CORE_HTTP_HOST: '0.0.0.0' },
        stderr: auth,
        stdout: sink(),
      }),
    ).toBe(2)
    expect(auth.text()).toContain('HTTP auth is off (CORE_AUTH=off)')
    expect(auth.text()).toContain('[E_VALIDATION]')
  })

  it('returns 0 for --help with the usage naming every variable, and 1 when the hub cannot start', async () => {
    const help = sink()
    expect(await runHub({ argv: ['--help'], stdout: help })).toBe(0)
    for (const name of [
      'CORE_CONFIG',
      'CORE_HTTP_HOST',
      'CORE_HTTP_PORT',
      'CORE_AUTH',
      'CORE_ADMIN_TOKEN',
      'CORE_MQTT_URL',
      'CORE_DATA_DIR',
      'CORE_DATABASE_URL',
      'CORE_LOG_LEVEL',
    ])
      expect(help.text()).toContain(name)
    const failing = await writeHubConfig(dir, {
      pluginDirs: ['./plugins'],
      required: ['hello'],
      config: { hello: { greeting: '' } },
      mqtt: { enabled: false },
    })
    const stderr = sink()
    expect(
      await runHub({
        config: failing,
        env: await baseEnv(),
        stderr,
        stdout: sink(),
        logger: silentLogger,
      }),
    ).toBe(1)
    expect(stderr.text()).toMatch(/^core-hub: the hub did not start: .*hello/)
  })

  it('logs human-readable lines on a terminal and JSON lines otherwise', () => {
    const streamOf = (logger: unknown): { constructor: { name: string } } =>
      (logger as Record<symbol, { constructor: { name: string } }>)[pino.symbols.streamSym] as {
        constructor: { name: string }
      }
    // pino's own destination is a SonicBoom writing JSON; pino-pretty's is a transform stream.
    expect(streamOf(createHubLogger('info', false)).constructor.name).toBe('SonicBoom')
    expect(streamOf(createHubLogger('info', true)).constructor.name).not.toBe('SonicBoom')
  })

  it('exports runHub and the hub API from the package entry', () => {
    expect(Object.keys(hubModule).sort()).toMatchInlineSnapshot(`
      [
        "APP_DIR",
        "BOOTSTRAP_TOKEN_NAME",
        "DEFAULT_CONFIG_FILES",
        "DEFAULT_HTTP_HOST",
        "DEFAULT_HTTP_PORT",
        "DEFAULT_MQTT_PREFIX",
        "DEFAULT_MQTT_START_WAIT_MS",
        "DEFAULT_MQTT_URL",
        "ENV_OVERRIDES",
        "HubConfigSchema",
        "LOG_LEVELS",
        "MIN_ADMIN_TOKEN_LENGTH",
        "USAGE",
        "createHubLogger",
        "describeStorage",
        "formatStartup",
        "formatStop",
        "loadHubConfig",
        "openStorage",
        "parseHubArgs",
        "runHub",
        "startHub",
      ]
    `)
    expect(hubModule.runHub).toBe(runHub)
  })
})
