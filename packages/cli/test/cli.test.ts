import { describe, expect, it } from 'vitest'
import * as api from '../src/index.js'
import { createCli } from '../src/index.js'
import { json, problem, run } from './support/fake-fetch.js'

describe('the public surface', () => {
  it('exports these names', () => {
    expect(Object.keys(api).sort()).toMatchInlineSnapshot(`
      [
        "DEFAULT_HUB_URL",
        "DEFAULT_TIMEOUT_MS",
        "EXIT_CODES",
        "HUB_INSTALL_HINT",
        "createCli",
        "exitCodeOf",
        "runCli",
        "startHubFromModule",
      ]
    `)
  })

  it('createCli returns a commander program named core with every command', () => {
    const program = createCli()
    expect(program.name()).toBe('core')
    expect(program.commands.map((c) => c.name())).toEqual([
      'start',
      'call',
      'services',
      'state',
      'events',
      'plugins',
      'token',
      'health',
      'openapi',
      'metrics',
      'nodes',
      'ctl',
    ])
  })
})

describe('hub address and token', () => {
  it('uses http://127.0.0.1:8080 and no Authorization header by default', async () => {
    const { code, last } = await run(['health'], () => json({ status: 'healthy' }))
    expect(code).toBe(0)
    expect(last.url.href).toBe('http://127.0.0.1:8080/health')
    expect(last.headers.authorization).toBeUndefined()
  })

  it('reads CORE_URL and CORE_TOKEN, and --url and --token override them', async () => {
    const env = { CORE_URL: 'http://hub.local:9000/', CORE_TOKEN: 'env-token' }
    const a = await run(['health'], () => json({ status: 'healthy' }), { env })
    expect(a.last.url.href).toBe('http://hub.local:9000/health')
    expect(a.last.headers.authorization).toBe('Bearer env-token')
    const b = await run(
      ['health', '--url', 'https://x.example/core', '--token', 'flag'],
      () => json({}),
      { env },
    )
    expect(b.last.url.href).toBe('https://x.example/core/health')
    expect(b.last.headers.authorization).toBe('Bearer flag')
  })

  it('refuses a --url that is not http(s) with exit code 2, before any request', async () => {
    for (const url of ['not a url', 'ftp://x', 'http://x/?q=1']) {
      const { code, stderr, seen } = await run(['health', '--url', url])
      expect(code).toBe(2)
      expect(stderr).toMatch(/^error E_VALIDATION: --url/)
      expect(seen).toHaveLength(0)
    }
  })
})

describe('core call', () => {
  it('posts the JSON argument merged with --param pairs, nesting dotted keys', async () => {
    const { code, stdout, last } = await run(
      [
        'call',
        'lights.set',
        '{"room":"hall","color":{"g":1}}',
        '--param',
        'on=true',
        '-p',
        'color.r=255',
        '-p',
        'name=kitchen light',
      ],
      (req) => json(req.body),
    )
    expect(code).toBe(0)
    expect(last.method).toBe('POST')
    expect(last.url.pathname).toBe('/api/v1/services/lights.set')
    expect(last.headers['content-type']).toBe('application/json')
    expect(last.body).toEqual({
      room: 'hall',
      on: true,
      color: { g: 1, r: 255 },
      name: 'kitchen light',
    })
    expect(JSON.parse(stdout)).toEqual(last.body)
    expect(stdout).toContain('\n  "room": "hall"')
  })

  it('sends {} with neither JSON nor --param, and prints one JSON line with --json', async () => {
    const { stdout, last } = await run(['call', 'lights.get', '--json'], () =>
      json({ on: true, level: 3 }),
    )
    expect(last.body).toEqual({})
    expect(stdout).toBe('{"on":true,"level":3}\n')
  })

  it('reads the JSON from stdin when it is -', async () => {
    async function* stdin() {
      yield Buffer.from('{"room":')
      yield '"attic"}\n'
    }
    const { last } = await run(['call', 'lights.set', '-'], (req) => json(req.body), {
      stdin: stdin(),
    })
    expect(last.body).toEqual({ room: 'attic' })
  })

  it('refuses invalid JSON with exit code 2 and a message naming the argument, without calling the hub', async () => {
    const { code, stderr, seen } = await run(['call', 'lights.set', '{room:hall}'])
    expect(code).toBe(2)
    expect(stderr).toMatch(/^error E_VALIDATION: <json> is not valid JSON/)
    expect(stderr).toContain("'{room:hall}'")
    expect(seen).toHaveLength(0)
  })

  it('refuses a malformed --param with exit code 2', async () => {
    const { code, stderr } = await run(['call', 'lights.set', '-p', 'on'])
    expect(code).toBe(2)
    expect(stderr).toContain('--param "on" has no "="')
  })

  it('prints the hub error as "error E_CODE: detail" with its validation issues, and maps the exit code', async () => {
    const { code, stderr, stdout } = await run(['call', 'lights.set', '{}'], () =>
      problem(400, 'E_VALIDATION', 'Invalid params of service "lights.set"', {
        errors: [
          { path: '/room', keyword: 'required', message: "must have required property 'room'" },
        ],
      }),
    )
    expect(code).toBe(2)
    expect(stdout).toBe('')
    expect(stderr).toBe(
      `error E_VALIDATION: Invalid params of service "lights.set"\n  /room: must have required property 'room'\n`,
    )
  })

  it('prints the problem JSON on stderr with --json', async () => {
    const { code, stderr } = await run(['call', 'nope.x', '--json'], () =>
      problem(404, 'E_SERVICE_NOT_FOUND', 'No service "nope.x"'),
    )
    expect(code).toBe(3)
    expect(JSON.parse(stderr)).toMatchObject({
      status: 404,
      code: 'E_SERVICE_NOT_FOUND',
      detail: 'No service "nope.x"',
    })
  })

  it('maps each error code the hub sends to its exit code', async () => {
    const cases: Array<[number, string, number]> = [
      [401, 'E_UNAUTHENTICATED', 4],
      [403, 'E_FORBIDDEN', 4],
      [404, 'E_NOT_FOUND', 3],
      [409, 'E_CONFLICT', 5],
      [429, 'E_UNAVAILABLE', 7],
      [503, 'E_UNAVAILABLE', 7],
      [504, 'E_TIMEOUT', 6],
      [500, 'E_HANDLER', 1],
      [500, 'E_INTERNAL', 1],
    ]
    for (const [status, errorCode, exit] of cases) {
      const { code, stderr } = await run(['call', 'a.b'], () => problem(status, errorCode, 'x'))
      expect(code, errorCode).toBe(exit)
      expect(stderr).toBe(`error ${errorCode}: x\n`)
    }
  })

  it('maps an error answer without a problem body by its HTTP status', async () => {
    const { code, stderr } = await run(
      ['call', 'a.b'],
      () => new Response('Bad gateway', { status: 401 }),
    )
    expect(code).toBe(4)
    expect(stderr).toBe(
      'error E_UNAUTHENTICATED: POST /api/v1/services/a.b failed with HTTP 401: Bad gateway\n',
    )
    expect((await run(['call', 'a.b'], () => new Response('', { status: 502 }))).code).toBe(1)
    // A proxy's plain 429 (too many failed authentications) is worth a retry later: E_UNAVAILABLE.
    expect((await run(['call', 'a.b'], () => new Response('', { status: 429 }))).code).toBe(7)
  })
})

describe('network failures', () => {
  it('maps a hub that cannot be reached to exit code 7 with a hint', async () => {
    const { code, stderr } = await run(['health'], () => {
      throw Object.assign(new TypeError('fetch failed'), {
        cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8080'), {
          code: 'ECONNREFUSED',
        }),
      })
    })
    expect(code).toBe(7)
    expect(stderr).toBe(
      'error E_UNAVAILABLE: Cannot reach the hub at http://127.0.0.1:8080 (ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:8080): is it running? Start it with `core start`, or point --url / CORE_URL at it\n',
    )
  })

  it('maps a request past --timeout to exit code 6', async () => {
    const { code, stderr } = await run(['call', 'slow.x', '--timeout', '20'], undefined, {
      fetch: ((_url: unknown, init: RequestInit) =>
        new Promise((_, reject) => {
          init.signal?.addEventListener('abort', () => reject(init.signal?.reason))
        })) as typeof fetch,
    })
    expect(code).toBe(6)
    expect(stderr).toContain(
      'error E_TIMEOUT: The hub at http://127.0.0.1:8080 did not answer POST /api/v1/services/slow.x within 20 ms',
    )
  })

  it('refuses a --timeout that is not a positive whole number with exit code 2', async () => {
    for (const timeout of ['0', '-5', 'soon', '1.5']) {
      const { code, stderr } = await run(['health', '--timeout', timeout])
      expect(code).toBe(2)
      expect(stderr).toContain('--timeout')
    }
  })

  it('says so when a 2xx answer labelled JSON is not JSON', async () => {
    const { code, stderr } = await run(
      ['health'],
      () => new Response('<html>', { headers: { 'content-type': 'application/json' } }),
    )
    expect(code).toBe(1)
    expect(stderr).toContain('is not JSON')
  })
})
