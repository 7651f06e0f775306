import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type CloudEvent, CoreError, silentLogger } from '@core/contracts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createKernel, type InlinePlugin, type Kernel } from '../src/index.js'
import { createIsolation } from '../src/isolation/supervisor.js'
import { capturingLogger, tempDir, testKernel } from './helpers.js'

const procky = fileURLToPath(new URL('./isolation/fixtures/procky', import.meta.url))

/** An inline plugin offering `host.add` and `host.alive`. */
const host: InlinePlugin = {
  manifest: { name: 'host', coreApi: '^1.0.0' },
  plugin: {
    setup(ctx) {
      ctx.services.register('host.add', (p: { a: number; b: number }) => ({ sum: p.a + p.b }), {
        params: {},
      })
      ctx.services.register('host.alive', () => 'yes', { params: {} })
    },
  },
}

const call = <T = Record<string, unknown>>(kernel: Kernel, name: string, params: unknown = {}) =>
  kernel.services.call(name, params, { timeoutMs: 20_000 }) as Promise<T>

// Spawning a process on a loaded 2-core machine takes seconds.
const SLOW = { timeout: 60_000 }

describe('process isolation: the ctx over IPC', SLOW, () => {
  let kernel: Kernel
  let dataDir: string
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'core-process-'))
    kernel = createKernel({
      logger: silentLogger,
      plugins: [host, procky],
      config: { procky: { greeting: 'hello' } },
      lifecycleTimeoutMs: 30_000,
      isolation: { dataDir },
    })
    const saved = process.env.CORE_ADMIN_TOKEN
    process.env.CORE_ADMIN_TOKEN = 'the-hub-secret'
    try {
      const report = await kernel.start()
      expect(report.failed).toEqual([])
    } finally {
      if (saved === undefined) delete process.env.CORE_ADMIN_TOKEN
      else process.env.CORE_ADMIN_TOKEN = saved
    }
  }, 60_000)
  afterAll(async () => {
    await kernel.stop()
    await rm(dataDir, { recursive: true, force: true })
  })

  it('serves a validated call in another process, with params frozen there and config applied', async () => {
    const out = await call(kernel, 'procky.echo', { a: [1] })
    expect(out).toEqual({
      params: { a: [1] },
      frozen: true,
      greeting: 'hello',
      pid: expect.any(Number),
    })
    expect(out.pid).not.toBe(process.pid)
    await expect(call(kernel, 'procky.add', { a: 'x', b: 1 })).rejects.toMatchObject({
      code: 'E_VALIDATION',
    })
  })

  it('lets the process call a service of the hub (permission checked on the kernel side)', async () => {
    expect(await call(kernel, 'procky.add', { a: 2, b: 3 })).toEqual({ sum: 5 })
  })

  it('carries events both ways, deep-frozen in the process', async () => {
    const pongs: CloudEvent[] = []
    const off = kernel.bus.subscribe('procky.pong', (event) => {
      pongs.push(event)
    })
    await kernel.bus.publish('host.ping', { n: 1, nested: { deep: true } })
    await expect.poll(() => pongs.length, { timeout: 15_000 }).toBe(1)
    expect(pongs[0]?.data).toEqual({ got: { n: 1, nested: { deep: true } }, frozen: true })
    expect(pongs[0]?.source).toBe('/plugins/procky')
    off()
  })

  it('reads and writes state and storage through ctx, transactions whole', async () => {
    expect(await call(kernel, 'procky.state', { value: { on: true } })).toEqual({
      value: { on: true },
      has: true,
    })
    expect((await kernel.state.get('procky', 'k'))?.value).toEqual({ on: true })
    expect(await call(kernel, 'procky.storage')).toEqual({
      a: { n: 1 },
      b: { n: 2 },
      c: null,
      count: 2,
      failed: 'Error: roll back',
    })
    expect(await kernel.storage.forNamespace('procky').get('b')).toEqual({ n: 2 })
  })

  it('refuses what the manifest does not grant with E_FORBIDDEN, on the kernel side (a process cannot widen it)', async () => {
    const before = (await kernel.plugins.get('procky')).denials
    expect(await call(kernel, 'procky.denied')).toEqual({
      subscribe: 'E_FORBIDDEN',
      publish: 'E_FORBIDDEN',
      kernelTopic: 'E_FORBIDDEN',
      call: 'E_FORBIDDEN',
      register: 'E_FORBIDDEN',
      stateGet: 'E_FORBIDDEN',
      storage: 'E_FORBIDDEN',
    })
    expect((await kernel.plugins.get('procky')).denials).toBe(before + 7)
  })

  it('refuses raw IPC messages forged by the plugin: unknown handles, polluting paths', async () => {
    expect(await call(kernel, 'procky.forge')).toEqual({
      unknownHandle: 'E_FORBIDDEN',
      pollute: 'E_VALIDATION',
    })
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    expect(await call<string>(kernel, 'host.alive')).toBe('yes')
  })

  it('keeps the synchronous ctx methods synchronous (a blocking read on a socketpair)', async () => {
    const subscriptions = kernel.bus.stats().subscriptions
    expect(await call(kernel, 'procky.sync')).toEqual({ off: 'function', has: true, listed: true })
    expect(kernel.bus.stats().subscriptions).toBe(subscriptions)
  })

  it('gives the process a minimal environment: its data folder, none of the hub secrets', async () => {
    const env = await call<Record<string, string>>(kernel, 'procky.env')
    expect(env.CORE_ADMIN_TOKEN).toBeUndefined()
    expect(env.PATH).toBeUndefined()
    expect(env.NODE_OPTIONS).toBeUndefined()
    expect(env.CORE_PLUGIN_DATA_DIR).toBe(join(dataDir, 'procky'))
    expect(
      Object.keys(env).every((k) =>
        ['NODE_ENV', 'TZ', 'LANG', 'LC_ALL', 'CORE_PLUGIN_DATA_DIR'].includes(k),
      ),
    ).toBe(true)
  })

  it('writes to its data folder only, and reads nothing outside its package', async () => {
    const outside = join(dataDir, 'outside.txt')
    expect(await call(kernel, 'procky.files', { read: '/etc/passwd', write: outside })).toEqual({
      read: 'ERR_ACCESS_DENIED',
      write: 'ERR_ACCESS_DENIED',
      own: 'mine',
    })
    expect(await readFile(join(dataDir, 'procky', 'note.txt'), 'utf8')).toBe('mine')
    await expect(readFile(outside)).rejects.toMatchObject({ code: 'ENOENT' })
  })
})

const fast = {
  heartbeatMs: 100,
  watchdogMs: 20_000,
  restart: { initialDelayMs: 20, maxDelayMs: 100, attempts: 3 },
}

async function faultKernel(isolation: Record<string, unknown> = {}): Promise<Kernel> {
  const kernel = testKernel({
    plugins: [host, procky],
    lifecycleTimeoutMs: 30_000,
    isolation: { ...fast, dataDir: await tempDir(), ...isolation },
  })
  const report = await kernel.start()
  expect(report.failed).toEqual([])
  return kernel
}

const stateOf = async (kernel: Kernel): Promise<string> =>
  (await kernel.plugins.get('procky')).state

describe('process isolation: faults end only the child', SLOW, () => {
  it('ends only the child on process.exit() in the plugin, and restarts it in a new process', async () => {
    const kernel = await faultKernel()
    const first = await call<number>(kernel, 'procky.pid')
    const error = await call(kernel, 'procky.exit').catch((e: unknown) => e)
    expect(CoreError.is(error)).toBe(true)
    expect((error as Error).message).toContain('exited with code 3')
    expect(await call<string>(kernel, 'host.alive')).toBe('yes')
    await expect.poll(() => stateOf(kernel), { timeout: 30_000 }).toBe('started')
    expect(await call<number>(kernel, 'procky.pid')).not.toBe(first)
  })

  it('marks a crashed child failed with its error, restarts it with backoff, and leaves it failed after the bounded attempts', async () => {
    const kernel = await faultKernel({ restart: { ...fast.restart, attempts: 1 } })
    const failures: CloudEvent[] = []
    kernel.bus.subscribe('core.plugin.failed', (e) => {
      failures.push(e)
    })
    await call(kernel, 'procky.crash')
    await expect.poll(() => failures.length, { timeout: 30_000 }).toBe(1)
    const first = failures[0]?.data as { error: { message: string }; reason: string }
    expect(first.error.message).toContain('crashed in its process: crashed on purpose')
    expect(first.reason).toContain('restarting in 20 ms (attempt 1 of 1)')
    await expect.poll(() => stateOf(kernel), { timeout: 30_000 }).toBe('started')
    await call(kernel, 'procky.crash')
    await expect
      .poll(async () => (await kernel.plugins.get('procky')).reason, { timeout: 30_000 })
      .toContain('left failed after 1 restarts')
    expect(await stateOf(kernel)).toBe('failed')
    expect((await kernel.health()).plugins.host?.status).toBe('healthy')
  })

  it('kills a child whose event loop is blocked (heartbeat watchdog) and keeps the hub serving', async () => {
    const kernel = await faultKernel({ watchdogMs: 1_500 })
    const looping = call(kernel, 'procky.loop').catch((e: unknown) => e)
    expect(await call<string>(kernel, 'host.alive')).toBe('yes')
    const error = await looping
    expect((error as Error).message).toContain('event loop blocked')
    await expect.poll(() => stateOf(kernel), { timeout: 30_000 }).toBe('started')
  })

  it('replaces the child on reload', async () => {
    const kernel = await faultKernel()
    const first = await call<number>(kernel, 'procky.pid')
    await kernel.plugins.reload('procky')
    const second = await call<number>(kernel, 'procky.pid')
    expect(second).not.toBe(first)
    // the old child is gone
    expect(() => process.kill(first, 0)).toThrow()
  })
})

describe('process isolation: dependencies', SLOW, () => {
  it('reads the packages its package.json depends on (linked from elsewhere, as pnpm does), and nothing beside them', async () => {
    const root = await tempDir()
    const store = join(root, 'store')
    await mkdir(join(store, 'dep'), { recursive: true })
    await writeFile(
      join(store, 'dep', 'package.json'),
      JSON.stringify({ name: 'dep', version: '1.0.0', type: 'module', exports: './index.js' }),
    )
    await writeFile(join(store, 'dep', 'index.js'), 'export const answer = 42\n')
    await writeFile(join(store, 'secret.txt'), 'beside the dependency')
    const dir = join(root, 'plugin')
    await mkdir(join(dir, 'node_modules'), { recursive: true })
    await symlink(join(store, 'dep'), join(dir, 'node_modules', 'dep'))
    const corePlugin = {
      name: 'deppy',
      entry: './index.js',
      coreApi: '^1.0.0',
      isolation: 'process',
    }
    await writeFile(
      join(dir, 'package.json'),
      JSON.stringify({
        name: 'deppy',
        version: '1.0.0',
        type: 'module',
        dependencies: { dep: '1.0.0' },
        corePlugin,
      }),
    )
    await writeFile(
      join(dir, 'index.js'),
      `import { readFileSync } from 'node:fs'
import { answer } from 'dep'
export default {
  setup(ctx) {
    ctx.services.register('deppy.get', () => {
      let beside
      try { beside = readFileSync(${JSON.stringify(join(store, 'secret.txt'))}, 'utf8') } catch (e) { beside = e.code }
      return { answer, beside }
    }, { params: {} })
  },
}
`,
    )
    const kernel = testKernel({
      plugins: [dir],
      lifecycleTimeoutMs: 30_000,
      isolation: { dataDir: join(root, 'data') },
    })
    const report = await kernel.start()
    expect(report.failed).toEqual([])
    expect(await call(kernel, 'deppy.get')).toEqual({ answer: 42, beside: 'ERR_ACCESS_DENIED' })
  })
})

describe('process isolation: the output of the child', SLOW, () => {
  it("logs the child's stdout as info and stderr as warn lines, under the plugin's name", async () => {
    const root = await tempDir()
    const dir = join(root, 'talky')
    await mkdir(dir, { recursive: true })
    const corePlugin = {
      name: 'talky',
      entry: './index.js',
      coreApi: '^1.0.0',
      isolation: 'process',
    }
    await writeFile(
      join(dir, 'package.json'),
      JSON.stringify({ name: 'talky', version: '1.0.0', type: 'module', corePlugin }),
    )
    await writeFile(
      join(dir, 'index.js'),
      `export default {
  setup(ctx) {
    ctx.services.register('talky.say', ({ text }) => {
      console.log('out: ' + text)
      console.error('err: ' + text)
      return 'said'
    }, { params: {} })
  },
}
`,
    )
    const records: unknown[][] = []
    const kernel = testKernel({
      logger: capturingLogger(records),
      plugins: [dir],
      lifecycleTimeoutMs: 30_000,
      isolation: { dataDir: join(root, 'data') },
    })
    expect((await kernel.start()).failed).toEqual([])
    expect(await call(kernel, 'talky.say', { text: 'hi' })).toBe('said')
    const lines = () =>
      records.filter(([, bindings]) => (bindings as { plugin?: string }).plugin === 'talky')
    await expect
      .poll(() => lines().map(([level, , args]) => [level, ...(args as unknown[])]))
      .toEqual(
        expect.arrayContaining([
          ['info', { stream: 'stdout' }, 'out: hi'],
          ['warn', { stream: 'stderr' }, 'err: hi'],
        ]),
      )
  })
})

describe('process isolation: a Node without the permission model', () => {
  it('refuses a process plugin with E_PLUGIN_MANIFEST rather than run it unconfined', async () => {
    const isolation = createIsolation({
      logger: silentLogger,
      options: undefined,
      defaultWatchdogMs: 10_000,
      loadTimeoutMs: 10_000,
      failPlugin: () => {},
      restartPlugin: () => Promise.resolve(),
      nodeFlags: new Set(['--max-old-space-size']),
    })
    const error = await isolation
      .load(
        'procky',
        { name: 'procky', coreApi: '^1.0.0', entry: './index.js', isolation: 'process' },
        { entryPath: join(procky, 'index.js'), dir: procky },
      )
      .catch((e: unknown) => e)
    expect(CoreError.is(error, 'E_PLUGIN_MANIFEST')).toBe(true)
    expect((error as Error).message).toContain('has no permission model')
    await isolation.close()
  })
})
