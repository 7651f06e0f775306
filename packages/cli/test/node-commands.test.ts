import { randomUUID } from 'node:crypto'
import { silentLogger } from '@core/contracts'
import { createHttpServer, registerNodeRoutes } from '@core/http'
import { createKernel } from '@core/kernel'
import { createNodeRegistry } from '@core/node-registry'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { EXIT_CODES, runCli } from '../src/index.js'

/** `core nodes …` in this process, against a real hub (kernel + HTTP + node routes) on 127.0.0.1. */
const ADMIN_TOKEN = 'e7a93c15d04b28f61a9e3d7c50b2f48a16d9c3e07b5a2f8c41e6d90b3a7c52f1' // 256 random bits: weaker ones are refused
const kernel = createKernel({ logger: silentLogger })
const registry = createNodeRegistry()
const http = createHttpServer(kernel, {
  adminToken: ADMIN_TOKEN,
  logger: silentLogger,
  processMetrics: false,
})
registerNodeRoutes(http, registry)
let url = ''
const kitchen = randomUUID()

beforeAll(async () => {
  await kernel.start()
  ;({ url } = await http.listen({ host: '127.0.0.1', port: 0 }))
  const passport = (
    uid: string,
    name: string,
    nodeType: string,
    labels: Record<string, string>,
  ) => ({
    apiVersion: 'core.runtime/v1',
    kind: 'NodePassport',
    metadata: { uid, name, nodeType, labels },
    spec: {
      endpoint: 'http://127.0.0.1:8080',
      capabilities: { services: [{ name: 'lights.toggle', version: '1.0.0' }] },
    },
  })
  await registry.register(passport(kitchen, 'kitchen-hub', 'hub', { room: 'kitchen' }))
  await registry.register(passport(randomUUID(), 'hall-agent', 'agent', { room: 'hall' }))
})

afterAll(async () => {
  await http.close()
  await registry.close()
  await kernel.stop()
})

async function core(argv: string[]) {
  let stdout = ''
  let stderr = ''
  const code = await runCli(argv, {
    env: { CORE_URL: url, CORE_TOKEN: ADMIN_TOKEN },
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    signal: new AbortController().signal,
  })
  return { code, stdout, stderr }
}

describe('core nodes', () => {
  it('lists the nodes matching -l as a table', async () => {
    const { code, stdout } = await core(['nodes', 'list', '-l', 'room=kitchen'])
    expect(code).toBe(0)
    expect(stdout).toContain('kitchen-hub')
    expect(stdout).toContain('room=kitchen')
    expect(stdout).toContain('ALIVE')
    expect(stdout).not.toContain('hall-agent')
  })

  it('filters by --kind and --healthy, and prints JSON with --json', async () => {
    const { code, stdout } = await core(['nodes', 'list', '--kind', 'agent', '--healthy', '--json'])
    expect(code).toBe(0)
    const list = JSON.parse(stdout) as Array<{ nodeKind: string; healthState: string }>
    expect(list.map((n) => [n.nodeKind, n.healthState])).toEqual([['agent', 'ALIVE']])
  })

  it('shows one node with get, and exits with the not-found code for an unknown uid', async () => {
    const found = await core(['nodes', 'get', kitchen])
    expect(found.code).toBe(0)
    expect(found.stdout).toContain('lights.toggle@1.0.0')
    expect(found.stdout).toContain('http://127.0.0.1:8080')
    const missing = await core(['nodes', 'get', randomUUID()])
    expect(missing.code).toBe(EXIT_CODES.E_NOT_FOUND)
    expect(missing.stderr).toContain('No node')
  })

  it('refuses a bad selector before any request, naming the position', async () => {
    const { code, stderr } = await core(['nodes', 'list', '-l', 'room in kitchen'])
    expect(code).toBe(EXIT_CODES.E_VALIDATION)
    expect(stderr).toContain('position 8')
  })
})
