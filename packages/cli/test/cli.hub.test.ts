/**
 * The `core` command run in this process (runCli with captured stdout and stderr) against a
 * real hub listening on 127.0.0.1: createKernel + createHttpServer, built here. The spawned
 * binary, one test per exit-code family, is in cli.bin.test.ts.
 */
import type { Kernel } from '@core/kernel'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { startHubFromModule } from '../src/index.js'
import {
  type Env,
  freePort,
  runCore,
  startCore,
  startTestHub,
  type TestHub,
} from './support/hub.js'

let hub: TestHub
let url = ''
let kernel: Kernel

beforeAll(async () => {
  hub = await startTestHub()
  ;({ url, kernel } = hub)
})

afterAll(async () => {
  await hub?.close()
})

const core = (args: string[], env: Env = {}) => runCore(url, args, env)
const start = (args: string[], env: Env = {}) => startCore(url, args, env)

describe('core call (in process, real hub)', () => {
  it('calls a service with a JSON argument and --param pairs, printing the result', async () => {
    const [people, json] = await Promise.all([
      core([
        'call',
        'lights.set',
        '{"room":"kitchen"}',
        '--param',
        'on=true',
        '--param',
        'color.r=255',
      ]),
      core(['call', 'lights.set', '-p', 'room=hall', '-p', 'on=false', '--json']),
    ])
    expect(people.stderr).toBe('')
    expect(people.code).toBe(0)
    expect(JSON.parse(people.stdout)).toEqual({ room: 'kitchen', on: true, color: { r: 255 } })
    expect(json.code).toBe(0)
    expect(json.stdout).toBe('{"room":"hall","on":false}\n')
  })

  it('exits 3 for an unknown service, 2 for invalid JSON and for params the service refuses', async () => {
    const [unknown, badJson, refused] = await Promise.all([
      core(['call', 'lights.explode']),
      core(['call', 'lights.set', '{room:kitchen}']),
      core(['call', 'lights.set', '{"room":"kitchen","on":"yes"}']),
    ])
    expect(unknown.code).toBe(3)
    expect(unknown.stderr).toMatch(/^error E_SERVICE_NOT_FOUND: .*lights\.explode/)
    expect(badJson.code).toBe(2)
    expect(badJson.stderr).toMatch(/^error E_VALIDATION: <json> is not valid JSON/)
    expect(refused.code).toBe(2)
    expect(refused.stderr).toMatch(/^error E_VALIDATION: .*\n {2}\/on: must be boolean\n$/)
  })
})

describe('core state (in process, real hub)', () => {
  it('sets, gets, lists and deletes a key, with --if-revision conflicts exiting 5', async () => {
    const set = await core(['state', 'set', 'devices', 'light.kitchen', '{"on":true}', '--json'])
    expect(set.code).toBe(0)
    expect(JSON.parse(set.stdout)).toMatchObject({ value: { on: true }, revision: 1 })

    const [get, list, conflict] = await Promise.all([
      core(['state', 'get', 'devices', 'light.kitchen']),
      core(['state', 'list', 'devices', '--json']),
      core(['state', 'set', 'devices', 'light.kitchen', '{"on":false}', '--if-revision', '7']),
    ])
    expect(get.code).toBe(0)
    expect(get.stdout).toMatch(/^namespace {2}devices\nkey {8}light\.kitchen\nrevision {3}1\n/)
    expect(get.stdout).toContain('"on": true')
    expect(list.code).toBe(0)
    expect(JSON.parse(list.stdout)).toEqual([
      expect.objectContaining({ key: 'light.kitchen', value: { on: true }, revision: 1 }),
    ])
    expect(conflict.code).toBe(5)
    expect(conflict.stderr).toMatch(/^error E_CONFLICT: /)

    const del = await core(['state', 'delete', 'devices', 'light.kitchen', '--if-revision', '1'])
    expect(del.code).toBe(0)
    expect(del.stdout).toBe('Deleted devices/light.kitchen\n')
    expect(await kernel.state.get('devices', 'light.kitchen')).toBeUndefined()

    const gone = await core(['state', 'get', 'devices', 'light.kitchen', '--json'])
    expect(gone.code).toBe(3)
    expect(JSON.parse(gone.stderr)).toMatchObject({ status: 404, code: 'E_NOT_FOUND' })
  })
})

describe('core plugins, health, openapi, metrics (in process, real hub)', () => {
  it('lists and reloads plugins, and prints health, the OpenAPI document and metrics', async () => {
    const [list, reload, health, openapi, metrics] = await Promise.all([
      core(['plugins', 'list']),
      core(['plugins', 'reload', 'lights', '--json']),
      core(['health']),
      core(['openapi', '--json']),
      core(['metrics']),
    ])
    expect(list.code).toBe(0)
    expect(list.stdout).toMatch(
      /^NAME +VERSION +STATE +ISOLATION +REQUIRED +RELOADS +NOTE\nlights +1\.2\.3 +started +inline /,
    )
    expect(reload.code).toBe(0)
    expect(JSON.parse(reload.stdout)).toMatchObject({
      name: 'lights',
      state: 'started',
      reloads: 1,
    })
    expect(health.code).toBe(0)
    expect(health.stdout).toMatch(/^status: (healthy|degraded)\n/)
    expect(openapi.code).toBe(0)
    const doc = JSON.parse(openapi.stdout) as { openapi: string; paths: Record<string, unknown> }
    expect(doc.openapi).toBe('3.1.0')
    expect(Object.keys(doc.paths)).toContain('/api/v1/services/lights.set')
    expect(metrics.code).toBe(0)
    expect(metrics.stdout).toContain('# TYPE ')
  })
})

describe('core token (in process, real hub)', () => {
  it('creates a token printed once, lists it, uses it within its scopes, and revokes it', async () => {
    const created = await core([
      'token',
      'create',
      '--name',
      'reader',
      '--scopes',
      'state.read:devices.#,services.call:lights.#',
      '--json',
    ])
    expect(created.code).toBe(0)
    const { id, token } = JSON.parse(created.stdout) as { id: string; token: string }
    expect(token).toMatch(/^core_/)

    const [list, allowed, forbidden] = await Promise.all([
      core(['token', 'list']),
      core(['call', 'lights.set', '-p', 'room=x', '-p', 'on=true'], { CORE_TOKEN: token }),
      core(['state', 'set', 'devices', 'x', '1'], { CORE_TOKEN: token }),
    ])
    expect(list.code).toBe(0)
    expect(list.stdout).toMatch(
      new RegExp(`\\n${id} +reader +state\\.read:devices\\.#,services\\.call:lights\\.# `),
    )
    expect(list.stdout).not.toContain(token)
    expect(allowed.code).toBe(0)
    expect(forbidden.code).toBe(4)
    expect(forbidden.stderr).toMatch(/^error E_FORBIDDEN: /)

    const revoked = await core(['token', 'revoke', id])
    expect(revoked.code).toBe(0)
    expect(revoked.stdout).toBe(`Revoked token ${id}\n`)
    const after = await core([
      'call',
      'lights.set',
      '-p',
      'room=x',
      '-p',
      'on=true',
      '--token',
      token,
    ])
    expect(after.code).toBe(4)
    expect(after.stderr).toMatch(/^error E_UNAUTHENTICATED: /)
  })
})

describe('failures (in process)', () => {
  it('exits 4 with a wrong token, 7 when the hub is unreachable, 2 for a usage error', async () => {
    const port = await freePort()
    const [wrong, missing, unreachable, unreachableJson, usage] = await Promise.all([
      core(['state', 'list', 'devices'], { CORE_TOKEN: 'core_0000000000000000_wrong' }),
      core(['plugins', 'list'], { CORE_TOKEN: undefined }),
      core(['health', '--url', `http://127.0.0.1:${port}`]),
      core(['call', 'lights.set', '--json'], { CORE_URL: `http://127.0.0.1:${port}` }),
      core(['state', 'get', 'devices']),
    ])
    expect(wrong.code).toBe(4)
    expect(wrong.stderr).toMatch(/^error E_UNAUTHENTICATED: /)
    expect(missing.code).toBe(4)
    expect(missing.stderr).toMatch(/^error E_UNAUTHENTICATED: /)
    expect(unreachable.code).toBe(7)
    expect(unreachable.stderr).toMatch(
      new RegExp(
        `^error E_UNAVAILABLE: Cannot reach the hub at http://127\\.0\\.0\\.1:${port} \\(ECONNREFUSED`,
      ),
    )
    expect(unreachableJson.code).toBe(7)
    expect(JSON.parse(unreachableJson.stderr)).toMatchObject({ code: 'E_UNAVAILABLE' })
    expect(usage.code).toBe(2)
    expect(usage.stderr).toBe(
      "error E_VALIDATION: missing required argument 'key' (see `core state get --help`)\n",
    )
  })
})

describe('core events tail (in process, real hub)', () => {
  it('prints one line per matching event until Ctrl+C, then exits 0', async () => {
    const tail = start(['events', 'tail', 'demo.#'])
    try {
      // The subscription is live once an event published now reaches the command.
      let n = 0
      await vi.waitFor(
        () => {
          void kernel.bus.publish('demo.ping', { n: n++ }, { wait: false })
          void kernel.bus.publish('other.ping', { ignored: true }, { wait: false })
          expect(tail.stdout()).toContain('demo.ping')
        },
        { timeout: 45_000, interval: 50 },
      )
      await kernel.bus.publish('demo.button.pressed', { button: 1 })
      await expect.poll(() => tail.stdout(), { timeout: 10_000 }).toContain('demo.button.pressed')
      tail.interrupt()
      expect(await tail.exited).toBe(0)
      const lines = tail.stdout().trimEnd().split('\n')
      expect(lines.every((line) => /^\S+Z {2}demo\.\S+ {2}\{.*\}$/.test(line))).toBe(true)
      expect(lines.at(-1)).toMatch(/ {2}demo\.button\.pressed {2}\{"button":1\}$/)
      expect(tail.stdout()).not.toContain('other.ping')
      expect(tail.stderr()).toBe('')
    } finally {
      tail.interrupt()
    }
  })

  it('prints NDJSON CloudEvents with --json and stops by itself after --count events', async () => {
    const tail = start(['events', 'tail', 'json.*', '--json', '--count', '2'])
    try {
      let n = 0
      const publisher = setInterval(() => {
        void kernel.bus.publish('json.tick', { n: n++ }, { wait: false })
      }, 100)
      const code = await tail.exited.finally(() => clearInterval(publisher))
      expect(code).toBe(0)
      const events = tail
        .stdout()
        .trimEnd()
        .split('\n')
        .map((line) => JSON.parse(line))
      expect(events).toHaveLength(2)
      for (const event of events) {
        expect(event).toMatchObject({
          specversion: '1.0',
          type: 'json.tick',
          data: { n: expect.any(Number) },
        })
      }
    } finally {
      tail.interrupt()
    }
  })

  it('refuses a malformed pattern with exit code 2', async () => {
    const bad = await core(['events', 'tail', 'demo..x'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/^error E_VALIDATION: Invalid <pattern> "demo\.\.x"/)
  })
})

describe('core start (in process)', () => {
  it("exits 7 with a clear message when no hub module is installed (the bin's start)", async () => {
    const running = startCore(
      url,
      ['start'],
      {},
      {
        start: (options) => startHubFromModule(options, {}),
      },
    )
    expect(await running.exited).toBe(7)
    expect(running.stderr()).toContain('`core start` needs a hub: install a hub and use its `core`')
    expect(running.stderr()).toContain('npx @core/hub start')
  })
})
