import { describe, expect, it } from 'vitest'
import * as api from '../src/index.js'
import { type CreateCliOptions, createCli, runCli } from '../src/index.js'

interface Seen {
  method: string
  url: URL
  headers: Record<string, string>
  body: unknown
}

type Handler = (request: Seen) => Response | Promise<Response>

const json = (body: unknown, status = 200, type = 'application/json'): Response =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': type } })

const problem = (status: number, code: string, detail: string, extra: object = {}): Response =>
  json(
    { type: `https://core-runtime.dev/errors/${code}`, title: 't', status, detail, code, ...extra },
    status,
    'application/problem+json',
  )

/** Runs the CLI in this process against a fake fetch; returns the exit code, output and requests. */
async function run(
  argv: string[],
  handler: Handler = () => json({}),
  options: CreateCliOptions = {},
) {
  const seen: Seen[] = []
  let stdout = ''
  let stderr = ''
  const fetch = (async (input: URL | string, init: RequestInit = {}) => {
    const request: Seen = {
      method: init.method ?? 'GET',
      url: new URL(String(input)),
      headers: { ...(init.headers as Record<string, string>) },
      body: init.body === undefined ? undefined : JSON.parse(String(init.body)),
    }
    seen.push(request)
    if (init.signal?.aborted) throw init.signal.reason
    return handler(request)
  }) as typeof globalThis.fetch
  const code = await runCli(argv, {
    env: {},
    fetch,
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    signal: new AbortController().signal,
    ...options,
  })
  return { code, stdout, stderr, seen, last: seen.at(-1) as Seen }
}

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

describe('core state', () => {
  const entry = { value: { on: true }, revision: 3, updatedAt: 0 }

  it('get reads one key and prints its fields for people, the entry with --json', async () => {
    const a = await run(['state', 'get', 'devices', 'light.kitchen'], () => json(entry))
    expect(a.last.url.pathname).toBe('/api/v1/state/devices/light.kitchen')
    expect(a.stdout).toBe(
      'namespace  devices\nkey        light.kitchen\nrevision   3\nupdated    1970-01-01T00:00:00.000Z\nvalue      {\n             "on": true\n           }\n',
    )
    const b = await run(['state', 'get', 'devices', 'light.kitchen', '--json'], () => json(entry))
    expect(JSON.parse(b.stdout)).toEqual(entry)
  })

  it('set puts the value with --if-revision and --ttl', async () => {
    const { code, stdout, last } = await run(
      [
        'state',
        'set',
        'devices',
        'light.kitchen',
        '{"on":false}',
        '--if-revision',
        '3',
        '--ttl',
        '60000',
      ],
      () => json({ ...entry, revision: 4 }),
    )
    expect(code).toBe(0)
    expect(last.method).toBe('PUT')
    expect(last.body).toEqual({ value: { on: false }, ifRevision: 3, ttlMs: 60_000 })
    expect(stdout).toBe('Set devices/light.kitchen (revision 4)\n')
  })

  it('set accepts any JSON value, and refuses a bad one or a bad --if-revision with exit code 2', async () => {
    const { last } = await run(['state', 'set', 'notes', 'greeting', '"hello"'], () => json(entry))
    expect(last.body).toEqual({ value: 'hello' })
    const bad = await run(['state', 'set', 'notes', 'greeting', 'hello'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('<json> is not valid JSON')
    const rev = await run(['state', 'set', 'notes', 'greeting', '1', '--if-revision', 'x'])
    expect(rev.code).toBe(2)
    expect(rev.stderr).toContain('--if-revision "x" must be a whole number')
  })

  it('delete sends DELETE with ifRevision in the query', async () => {
    const { code, stdout, last } = await run(
      ['state', 'delete', 'devices', 'light.kitchen', '--if-revision', '4', '--json'],
      () => new Response(null, { status: 204 }),
    )
    expect(code).toBe(0)
    expect(last.method).toBe('DELETE')
    expect(last.url.search).toBe('?ifRevision=4')
    expect(JSON.parse(stdout)).toEqual({
      namespace: 'devices',
      key: 'light.kitchen',
      deleted: true,
    })
  })

  it('list prints a table of keys, or says there are none', async () => {
    const items = [
      { key: 'light.kitchen', value: { on: true }, revision: 2, updatedAt: 0 },
      { key: 'plug.tv', value: 'off', revision: 10, updatedAt: 0 },
    ]
    const a = await run(['state', 'list', 'devices', '--prefix', 'light'], () => json(items))
    expect(a.last.url.search).toBe('?prefix=light')
    expect(a.stdout).toBe(
      'KEY            REVISION  UPDATED                   VALUE\n' +
        'light.kitchen  2         1970-01-01T00:00:00.000Z  {"on":true}\n' +
        'plug.tv        10        1970-01-01T00:00:00.000Z  "off"\n',
    )
    expect((await run(['state', 'list', 'empty'], () => json([]))).stdout).toBe(
      'No keys in empty\n',
    )
  })

  it('encodes namespace and key in the path', async () => {
    const { last } = await run(['state', 'get', 'a b', 'c/d'], () => json(entry))
    expect(last.url.pathname).toBe('/api/v1/state/a%20b/c%2Fd')
  })
})

describe('core token, plugins, services, openapi, metrics, events publish', () => {
  it('token create sends the name and the scopes, split on spaces and commas, and prints the token once', async () => {
    const created = {
      id: 'abc',
      name: 'ci',
      scopes: ['admin', 'state.read:#'],
      createdAt: 0,
      token: 'core_abc_secret',
    }
    const { code, stdout, last } = await run(
      ['token', 'create', '--name', 'ci', '--scopes', 'admin', 'state.read:#,events.subscribe:#'],
      () => json(created, 201),
    )
    expect(code).toBe(0)
    expect(last.body).toEqual({
      name: 'ci',
      scopes: ['admin', 'state.read:#', 'events.subscribe:#'],
    })
    expect(stdout.split('core_abc_secret')).toHaveLength(2)
    expect(stdout).toContain('shown only this once')
  })

  it('token create without --name is a usage error (exit 2)', async () => {
    const { code, stderr } = await run(['token', 'create', '--scopes', 'admin'])
    expect(code).toBe(2)
    expect(stderr).toBe(
      "error E_VALIDATION: required option '--name <name>' not specified (see `core token create --help`)\n",
    )
  })

  it('token list prints a table and token revoke sends DELETE', async () => {
    const a = await run(['token', 'list'], () =>
      json([{ id: 'abc', name: 'ci', scopes: ['admin'], createdAt: 0 }]),
    )
    expect(a.stdout).toBe(
      'ID   NAME  SCOPES  CREATED                   LAST USED\nabc  ci    admin   1970-01-01T00:00:00.000Z  -\n',
    )
    const b = await run(['token', 'revoke', 'abc'], () => new Response(null, { status: 204 }))
    expect(b.last.method).toBe('DELETE')
    expect(b.last.url.pathname).toBe('/api/v1/tokens/abc')
    expect(b.stdout).toBe('Revoked token abc\n')
  })

  it('plugins list prints a table with the failure of a failed plugin', async () => {
    const { stdout } = await run(['plugins', 'list'], () =>
      json([
        { name: 'lights', version: '1.0.0', state: 'started', required: true, reloads: 0 },
        {
          name: 'z2m',
          version: '0.1.0',
          state: 'failed',
          required: false,
          reloads: 1,
          error: { code: 'E_PLUGIN_LIFECYCLE', message: 'setup threw' },
        },
      ]),
    )
    expect(stdout).toBe(
      'NAME    VERSION  STATE    REQUIRED  RELOADS  NOTE\n' +
        'lights  1.0.0    started  yes       0\n' +
        'z2m     0.1.0    failed   no        1        E_PLUGIN_LIFECYCLE: setup threw\n',
    )
  })

  it('plugins reload posts to the reload route', async () => {
    const { stdout, last } = await run(['plugins', 'reload', 'lights'], () =>
      json({ name: 'lights', version: '1.0.0', state: 'started' }),
    )
    expect(last.method).toBe('POST')
    expect(last.url.pathname).toBe('/api/v1/plugins/lights/reload')
    expect(stdout).toBe('Reloaded lights 1.0.0: started\n')
  })

  it('services list prints a table', async () => {
    const { stdout } = await run(['services', 'list'], () =>
      json([{ name: 'lights.set', version: '2.0.0', timeoutMs: 5000, description: 'Switches' }]),
    )
    expect(stdout).toBe(
      'NAME        VERSION  NODE   TIMEOUT MS  DESCRIPTION\nlights.set  2.0.0    local  5000        Switches\n',
    )
  })

  it('openapi prints the document, metrics the text', async () => {
    const a = await run(['openapi'], () => json({ openapi: '3.1.0' }))
    expect(a.stdout).toBe('{\n  "openapi": "3.1.0"\n}\n')
    const b = await run(
      ['metrics'],
      () =>
        new Response('# TYPE x counter\nx 1\n', {
          headers: { 'content-type': 'text/plain; version=0.0.4' },
        }),
    )
    expect(b.stdout).toBe('# TYPE x counter\nx 1\n')
  })

  it('events publish posts the data and refuses a malformed type with exit code 2', async () => {
    const { last, stdout } = await run(
      ['events', 'publish', 'demo.button.pressed', '{"button":1}'],
      () => json({ id: 'e1', matched: 2 }, 202),
    )
    expect(last.url.pathname).toBe('/api/v1/events/demo.button.pressed')
    expect(last.body).toEqual({ button: 1 })
    expect(stdout).toBe('Published demo.button.pressed (id e1, 2 subscription(s))\n')
    const bad = await run(['events', 'publish', 'demo.#'])
    expect(bad.code).toBe(2)
    expect(bad.seen).toHaveLength(0)
  })
})

describe('core events tail', () => {
  const sse = (text: string, close = true): Response =>
    new Response(
      new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new TextEncoder().encode(text))
          if (close) controller.close()
        },
      }),
      { headers: { 'content-type': 'text/event-stream; charset=utf-8' } },
    )
  const frame = (type: string, data: unknown): string =>
    `event: ${type}\nid: 1\ndata: ${JSON.stringify({ specversion: '1.0', id: '1', type, time: '2025-01-01T00:00:00.000Z', data })}\n\n`

  it('subscribes with the pattern and prints time, type and data per event', async () => {
    const controller = new AbortController()
    const { code, stdout, last } = await run(
      ['events', 'tail', 'devices.#'],
      () => {
        setTimeout(() => controller.abort(), 20)
        return sse(
          `: subscribed\n\n${frame('devices.a', { on: true })}${frame('devices.b', null)}`,
          false,
        )
      },
      { signal: controller.signal },
    )
    expect(last.url.search).toBe('?pattern=devices.%23')
    expect(last.headers.accept).toBe('text/event-stream')
    expect(code).toBe(0)
    expect(stdout).toBe(
      '2025-01-01T00:00:00.000Z  devices.a  {"on":true}\n2025-01-01T00:00:00.000Z  devices.b  null\n',
    )
  })

  it('exits 7 when the hub closes the stream', async () => {
    const { code, stdout, stderr } = await run(['events', 'tail', '#', '--json'], () =>
      sse(frame('x.y', 1)),
    )
    expect(code).toBe(7)
    expect(JSON.parse(stdout)).toMatchObject({ type: 'x.y', data: 1 })
    expect(JSON.parse(stderr)).toMatchObject({ code: 'E_UNAVAILABLE' })
  })

  it('stops after --count events with exit 0', async () => {
    const { code, stdout } = await run(['events', 'tail', '#', '-n', '1'], () =>
      sse(frame('x.y', 1) + frame('x.z', 2), false),
    )
    expect(code).toBe(0)
    expect(stdout.trimEnd().split('\n')).toHaveLength(1)
  })

  it('maps a refused subscription to its exit code, and a non-SSE answer to 1', async () => {
    const refused = await run(['events', 'tail', 'secret.#'], () =>
      problem(403, 'E_FORBIDDEN', 'This token may not subscribe to "secret.#"'),
    )
    expect(refused.code).toBe(4)
    expect(refused.stderr).toBe('error E_FORBIDDEN: This token may not subscribe to "secret.#"\n')
    const wrong = await run(['events', 'tail', '#'], () => json({}))
    expect(wrong.code).toBe(1)
    expect(wrong.stderr).toContain('not text/event-stream')
  })
})

describe('core health', () => {
  const report = {
    status: 'unhealthy',
    components: { kernel: { status: 'unhealthy', details: { phase: 'stopping' } } },
    plugins: {
      lights: { status: 'unhealthy', state: 'failed', required: true, error: 'setup threw' },
    },
  }

  it('prints the report and exits 7 when the hub answers 503 unhealthy', async () => {
    const { code, stdout } = await run(['health'], () => json(report, 503))
    expect(code).toBe(7)
    expect(stdout).toBe(
      'status: unhealthy\n\n' +
        'COMPONENT  STATUS     DETAILS\nkernel     unhealthy  {"phase":"stopping"}\n\n' +
        'PLUGIN  STATUS     STATE   REQUIRED  NOTE\nlights  unhealthy  failed  yes       setup threw\n',
    )
  })

  it('prints the report as JSON with --json and exits 0 when healthy or degraded', async () => {
    const { code, stdout } = await run(['health', '--json'], () =>
      json({ ...report, status: 'degraded' }),
    )
    expect(code).toBe(0)
    expect(JSON.parse(stdout).status).toBe('degraded')
  })
})

describe('usage', () => {
  it('--help and --version exit 0 and print to stdout', async () => {
    const a = await run(['state', 'set', '--help'])
    expect(a.code).toBe(0)
    expect(a.stdout).toContain('Usage: core state set [options] <namespace> <key> <json>')
    expect(a.stdout).toContain('--if-revision <n>')
    expect(a.stdout).toContain('Examples:')
    const b = await run(['--version'])
    expect(b.code).toBe(0)
    expect(b.stdout).toMatch(/^\d+\.\d+\.\d+/)
  })

  it('every command has --help with a description', async () => {
    const walk = (command: ReturnType<typeof createCli>, path: string[]): string[][] => [
      path,
      ...command.commands.flatMap((c) => walk(c, [...path, c.name()])),
    ]
    for (const path of walk(createCli(), [])) {
      const { code, stdout } = await run([...path, '--help'])
      expect(code, path.join(' ')).toBe(0)
      expect(stdout, path.join(' ')).toContain(`Usage: core${path.map((p) => ` ${p}`).join('')}`)
    }
  })

  it('maps unknown commands, unknown options, missing and extra arguments to exit code 2', async () => {
    const cases: Array<[string[], string]> = [
      [['bogus'], "error E_VALIDATION: unknown command 'bogus' (see `core --help`)"],
      [
        ['state', 'get', 'ns'],
        "error E_VALIDATION: missing required argument 'key' (see `core state get --help`)",
      ],
      [
        ['health', '--nope'],
        "error E_VALIDATION: unknown option '--nope' (see `core health --help`)",
      ],
      [
        ['health', 'extra'],
        "error E_VALIDATION: too many arguments for 'health'. Expected 0 arguments but got 1. (see `core health --help`)",
      ],
    ]
    for (const [argv, message] of cases) {
      const { code, stderr } = await run(argv)
      expect(code, argv.join(' ')).toBe(2)
      expect(stderr).toBe(`${message}\n`)
    }
  })

  it('prints a usage error as problem JSON with --json', async () => {
    const { code, stderr } = await run(['state', 'get', 'ns', '--json'])
    expect(code).toBe(2)
    expect(JSON.parse(stderr)).toMatchObject({
      code: 'E_VALIDATION',
      detail: expect.stringContaining("missing required argument 'key'"),
    })
  })

  it('exits 2 after printing the group help for a group without its subcommand', async () => {
    const { code, stderr } = await run(['state'])
    expect(code).toBe(2)
    expect(stderr).toContain('Usage: core state [options] [command]')
  })

  it('leaves no SIGINT or SIGTERM listener behind when it waits for Ctrl+C itself', async () => {
    const before = [process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')]
    await run(['health'], () => json({ status: 'healthy' }), { signal: undefined })
    await run(['health'], () => problem(503, 'E_UNAVAILABLE', 'x'), { signal: undefined })
    expect([process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')]).toEqual(before)
  })
})

describe('core start', () => {
  it('runs the start function with the --config file and exits with what it returns', async () => {
    const seen: unknown[] = []
    const { code } = await run(['start', '--config', 'hub.yaml'], undefined, {
      start: async (options) => {
        seen.push(options)
        return 0
      },
    })
    expect(code).toBe(0)
    expect(seen).toEqual([{ config: 'hub.yaml' }])
    expect((await run(['start'], undefined, { start: async () => 9 })).code).toBe(9)
    expect((await run(['start'], undefined, { start: async () => undefined })).code).toBe(0)
  })

  it('reports a start failure with its exit code', async () => {
    const { CoreError } = await import('@core/contracts')
    const { code, stderr } = await run(['start'], undefined, {
      start: async () => {
        throw new CoreError('E_VALIDATION', 'hub.yaml: /http/port must be integer')
      },
    })
    expect(code).toBe(2)
    expect(stderr).toBe('error E_VALIDATION: hub.yaml: /http/port must be integer\n')
  })

  it('refuses with exit code 7 when the CLI was built without a hub', async () => {
    const { code, stderr } = await run(['start'])
    expect(code).toBe(7)
    expect(stderr).toContain('has no hub to start')
  })
})

describe('cluster mode', () => {
  const nodes = [
    {
      nodeId: 'uid-self',
      passport: {
        metadata: { name: 'hall' },
        spec: {
          endpoint: 'http://127.0.0.1:8080',
          capabilities: { services: [{ name: 'lights.set', version: '2.0.0' }] },
        },
      },
    },
    {
      nodeId: 'uid-kitchen',
      passport: {
        metadata: { name: 'kitchen' },
        spec: {
          endpoint: 'http://10.0.0.7:8080',
          capabilities: { services: [{ name: 'oven.heat', version: '1.1.0' }] },
        },
      },
    },
  ]

  it('services list adds the services of the other hubs with their node, from the passports', async () => {
    const { stdout, seen } = await run(['services', 'list'], (request) =>
      request.url.pathname === '/api/v1/nodes'
        ? json(nodes)
        : json([{ name: 'lights.set', version: '2.0.0', timeoutMs: 5000 }]),
    )
    expect(seen.map((r) => `${r.url.pathname}${r.url.search}`)).toEqual([
      '/api/v1/services',
      '/api/v1/nodes?onlyHealthy=true',
    ])
    expect(stdout).toBe(
      [
        'NAME        VERSION  NODE                   TIMEOUT MS  DESCRIPTION',
        'lights.set  2.0.0    local                  5000        -',
        'oven.heat   1.1.0    kitchen (uid-kitchen)  -           -',
        '',
      ].join('\n'),
    )
  })

  it('call --node and --selector pass the route as query parameters', async () => {
    const a = await run(['call', 'oven.heat', '{"c":180}', '--selector', 'room=kitchen'], () =>
      json({ ok: true }),
    )
    expect(a.code).toBe(0)
    expect(a.last.url.searchParams.get('selector')).toBe('room=kitchen')
    expect(a.last.body).toEqual({ c: 180 })
    const b = await run(['call', 'oven.heat', '--node', 'uid-kitchen'], () => json({ ok: true }))
    expect(b.last.url.searchParams.get('node')).toBe('uid-kitchen')
    expect(b.last.url.searchParams.has('selector')).toBe(false)
  })

  it('call --selector refuses a malformed selector before any request', async () => {
    const { code, stderr, seen } = await run(['call', 'oven.heat', '--selector', 'room in (a'])
    expect(code).toBe(2)
    expect(stderr).toContain('E_VALIDATION')
    expect(seen).toEqual([])
  })

  it('ctl posts { target, scope, data } to /api/v1/control and prints the routing key', async () => {
    const { code, stdout, last } = await run(
      ['ctl', 'all', 'pause', '--data', '{"reason":"maintenance"}'],
      () => json({ routingKey: 'ctl.all.pause' }, 202),
    )
    expect(code).toBe(0)
    expect(last.method).toBe('POST')
    expect(last.url.pathname).toBe('/api/v1/control')
    expect(last.body).toEqual({ target: 'all', scope: 'pause', data: { reason: 'maintenance' } })
    expect(stdout).toBe('sent ctl.all.pause\n')
  })

  it('ctl refuses an unknown scope with exit code 2, before any request', async () => {
    const { code, stderr, seen } = await run(['ctl', 'all', 'reboot'])
    expect(code).toBe(2)
    expect(stderr).toContain('Unknown control scope "reboot"')
    expect(seen).toEqual([])
  })
})
