import { describe, expect, it } from 'vitest'
import { json, problem, run } from './support/fake-fetch.js'

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
          isolation: 'worker',
          required: false,
          reloads: 1,
          error: { code: 'E_PLUGIN_LIFECYCLE', message: 'setup threw' },
        },
      ]),
    )
    expect(stdout).toBe(
      'NAME    VERSION  STATE    ISOLATION  REQUIRED  RELOADS  NOTE\n' +
        'lights  1.0.0    started  inline     yes       0\n' +
        'z2m     0.1.0    failed   worker     no        1        E_PLUGIN_LIFECYCLE: setup threw\n',
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
