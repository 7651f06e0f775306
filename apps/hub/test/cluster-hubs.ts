/**
 * Hub processes for the cluster tests: each a real `apps/hub/src/main.ts` run through tsx
 * (own HTTP port, data folder, node uid), with small plain-JS plugins that serve, call and
 * record across hubs.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Connection } from 'rabbitmq-client'
import { ROOT } from './helpers.js'

/** A 256-bit admin token (weaker ones are refused at start). */
export const ADMIN_TOKEN = '9f3c2b1a0e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b'

/** Plugins of the cluster tests, by name. */
const PLUGINS: Record<string, { manifest: Record<string, unknown>; code: string }> = {
  // Serves weather.read (answers which hub served it), weather.slow (answers after `ms`) and
  // publishes weather.changed on demand.
  weather: {
    manifest: {
      permissions: { events: { publish: ['weather.#'] } },
      config: { type: 'object', properties: { hub: { type: 'string' } } },
    },
    code: `export default {
  setup(ctx) {
    ctx.services.register('weather.read', () => ({ hub: ctx.config.hub }), { params: { type: 'object' } })
    ctx.services.register('weather.slow', ({ ms }, { signal }) => new Promise((resolve) => {
      const timer = setTimeout(() => resolve({ hub: ctx.config.hub }), ms)
      signal.addEventListener('abort', () => clearTimeout(timer))
    }), { params: { type: 'object', properties: { ms: { type: 'integer' } }, required: ['ms'] } })
    ctx.services.register('weather.emit', async ({ tag }) => {
      await ctx.events.publish('weather.changed', { tag, from: ctx.config.hub })
      return { published: tag }
    }, { params: { type: 'object', properties: { tag: { type: 'string' } }, required: ['tag'] } })
  },
}
`,
  },
  // Serves garage.open: only one hub has it.
  garage: {
    manifest: { config: { type: 'object', properties: { hub: { type: 'string' } } } },
    code: `export default {
  setup(ctx) {
    ctx.services.register('garage.open', () => ({ hub: ctx.config.hub, open: true }), { params: { type: 'object' } })
  },
}
`,
  },
  // relay.call: a plugin calling another hub's service with ctx.services.call (meta.route for
  // node / selector); relay.seen: the weather events this hub received.
  relay: {
    manifest: {
      permissions: {
        services: { call: ['weather.*', 'garage.*'] },
        events: { subscribe: ['weather.#'] },
      },
    },
    code: `export default {
  setup(ctx) {
    const seen = []
    ctx.events.subscribe('weather.#', (event) => { seen.push({ tag: event.data.tag, source: event.source }) })
    ctx.services.register('relay.call', async ({ service, params, route, timeoutMs }) => {
      try {
        const meta = route === undefined ? undefined : { route }
        const result = await ctx.services.call(service, params ?? {}, { timeoutMs: timeoutMs ?? 3000, ...(meta ? { meta } : {}) })
        return { ok: true, result }
      } catch (error) {
        return { ok: false, code: error.code, message: error.message }
      }
    }, { params: { type: 'object', properties: { service: { type: 'string' } }, required: ['service'] } })
    ctx.services.register('relay.seen', () => [...seen], { params: { type: 'object' } })
  },
}
`,
  },
}

/** Writes the named plugins into `<dir>/plugins/<name>/`. */
export async function stageClusterPlugins(dir: string, names: readonly string[]): Promise<string> {
  const plugins = join(dir, 'plugins')
  for (const name of names) {
    const plugin = PLUGINS[name]
    if (plugin === undefined) throw new Error(`no test plugin "${name}"`)
    const folder = join(plugins, name)
    await mkdir(folder, { recursive: true })
    await writeFile(
      join(folder, 'package.json'),
      JSON.stringify({
        name,
        version: '1.0.0',
        type: 'module',
        corePlugin: { name, entry: './index.js', coreApi: '^1.0.0', ...plugin.manifest },
      }),
    )
    await writeFile(join(folder, 'index.js'), plugin.code)
  }
  return plugins
}

/** A hub process. */
export interface HubProcess {
  readonly name: string
  readonly child: ChildProcess
  /** `http://127.0.0.1:<port>`, once started. */
  url: string
  /** Its node uid (from the startup summary's cluster line). */
  uid: string
  stdout(): string
  stderr(): string
  readonly exited: Promise<number | null>
}

/** Spawns `apps/hub/src/main.ts --config <config>` with `env` (no other CORE_* variable). */
export function spawnHub(name: string, config: string, env: Record<string, string>): HubProcess {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'apps/hub/src/main.ts'), '--config', config],
    {
      cwd: ROOT,
      env: {
        ...Object.fromEntries(
          Object.entries(process.env).filter(([key]) => !key.startsWith('CORE_')),
        ),
        TSX_TSCONFIG_PATH: join(ROOT, 'tsconfig.json'),
        CORE_LOG_LEVEL: 'warn',
        CORE_ADMIN_TOKEN: ADMIN_TOKEN,
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
  return { name, child, url: '', uid: '', stdout: () => out, stderr: () => err, exited }
}

/** Resolves once the hub printed its startup summary; fills `url` and `uid`. */
export async function started(hub: HubProcess, timeoutMs = 90_000): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!hub.stdout().includes('Press Ctrl+C')) {
    if (hub.child.exitCode !== null || Date.now() > end) {
      hub.child.kill('SIGKILL')
      throw new Error(
        `hub ${hub.name} did not start (exit ${hub.child.exitCode})\nstdout:\n${hub.stdout()}\nstderr:\n${hub.stderr().slice(-4000)}`,
      )
    }
    await new Promise((r) => setTimeout(r, 100))
  }
  hub.url = /http: (http:\/\/[^\s]+)/.exec(hub.stdout())?.[1] ?? ''
  hub.uid = /cluster: .* node ([0-9a-f-]{36})/.exec(hub.stdout())?.[1] ?? ''
  if (hub.url === '' || hub.uid === '')
    throw new Error(`hub ${hub.name}: no URL or node uid in\n${hub.stdout()}`)
}

/** An authenticated JSON request to a hub; resolves with the status and parsed body. */
export async function api(
  hub: HubProcess,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${hub.url}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: {
      authorization: `Bearer ${ADMIN_TOKEN}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  const text = await res.text()
  return { status: res.status, body: text === '' ? undefined : JSON.parse(text) }
}

/** Calls `service` through hub's relay plugin (a plugin's `ctx.services.call`). */
export async function relay(
  hub: HubProcess,
  service: string,
  route?: Record<string, unknown>,
): Promise<{ ok: boolean; result?: { hub?: string }; code?: string }> {
  const { body } = await api(hub, '/api/v1/services/relay.call', {
    service,
    ...(route === undefined ? {} : { route }),
  })
  return body as { ok: boolean; result?: { hub?: string }; code?: string }
}

/** SIGTERM, then waits for the exit (SIGKILL after 15 s). */
export async function stopHub(hub: HubProcess): Promise<void> {
  if (hub.child.exitCode !== null || hub.child.signalCode !== null) return
  hub.child.kill('SIGTERM')
  const timer = setTimeout(() => hub.child.kill('SIGKILL'), 15_000)
  await hub.exited
  clearTimeout(timer)
}

/**
 * Removes the per-hub queues (`mindbus.node|ctl|evt.<uid>`) of the hubs of a test from the
 * shared broker: durable queues of a killed hub would otherwise keep collecting messages.
 */
export async function deleteNodeQueues(url: string, uids: readonly string[]): Promise<void> {
  const conn = new Connection({ url, retryLow: 100, retryHigh: 200 })
  try {
    await conn.onConnect(5_000)
    for (const uid of uids.filter((u) => u !== '')) {
      for (const kind of ['node', 'ctl', 'evt']) {
        await conn.queueDelete({ queue: `mindbus.${kind}.${uid}` }).catch(() => undefined)
      }
    }
  } finally {
    await conn.close()
  }
}
