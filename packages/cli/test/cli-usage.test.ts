import { describe, expect, it } from 'vitest'
import { createCli } from '../src/index.js'
import { json, problem, run } from './support/fake-fetch.js'

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
