// Adversarial suite, ctx part: a plugin that tries to leave its permissions through `ctx`
// (prototype walking, constructors, reflection, other plugins' handlers, frozen parts,
// `__proto__` in data) gets nothing, at the `inline` and the `worker` isolation level.
import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type CloudEvent, silentLogger } from '@core/contracts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadHubConfig } from '../../src/config.js'
import { type RunningHub, startHub } from '../../src/hub.js'
import { writeHubConfig } from '../helpers.js'

/** Names of kernel internals that must never be reachable from a plugin's ctx. */
const INTERNALS = [
  'bus',
  'registry',
  'records',
  'kernel',
  'handle',
  'deps',
  'services_',
  'subscriptions',
  'handlers',
  '__kernelSecret',
]

/** The victim: an inline plugin with a public and a secret service. */
const VICTIM = `export default {
  setup(ctx) {
    ctx.services.register('victim.secret', () => 'the secret', { params: {} })
    ctx.services.register('victim.public', (params) => ({
      admin: params.admin ?? null,
      protoIsObject: Object.getPrototypeOf(params) === Object.prototype,
      ownProto: Object.hasOwn(params, '__proto__'),
    }), { params: {} })
  },
}
`

/** The escaper: tries every way out it knows and reports what it reached. */
const ESCAPER = `import { isMainThread } from 'node:worker_threads'

const code = async (work) => {
  try { await work(); return 'allowed' } catch (error) { return error?.code ?? error?.name ?? String(error) }
}

/** Every own key reachable from root by values and prototypes (not the shared built-ins). */
function reachable(root) {
  const seen = new Set()
  const names = new Set()
  const queue = [root]
  while (queue.length > 0 && seen.size < 5000) {
    const o = queue.shift()
    if (o === null || (typeof o !== 'object' && typeof o !== 'function') || seen.has(o)) continue
    seen.add(o)
    if (o === Object.prototype || o === Function.prototype) continue
    for (const key of Reflect.ownKeys(o)) {
      names.add(typeof key === 'symbol' ? key.toString() : key)
      let value
      try { value = Reflect.getOwnPropertyDescriptor(o, key)?.value } catch {}
      queue.push(value)
    }
    queue.push(Object.getPrototypeOf(o))
  }
  return [...names]
}

export default {
  setup(ctx) {
    const any = { params: {} }
    ctx.services.register('escaper.probe', async () => {
      const servicesProto = Object.getPrototypeOf(ctx.services)
      // ctx is a plain object: ctx.constructor.constructor is its realm's Function.
      const ctor = ctx.constructor.constructor
      const attempt = (f) => { try { return f() ?? null } catch { return 'threw' } }
      const viaCtor = {
        realmFunction: ctor === Function && ctx.services.list.constructor === Function,
        mainThread: isMainThread,
        token: attempt(() => ctor('return process')().env.CORE_ADMIN_TOKEN),
        secret: attempt(() => ctor('return globalThis.__kernelSecret')()),
      }
      const mutations = {
        assign: await code(() => { ctx.services.call = () => 'mine' }),
        define: await code(() => Object.defineProperty(ctx.state, 'x', { value: 1 })),
        remove: await code(() => { delete ctx.storage.get }),
        protoSwap: await code(() => Object.setPrototypeOf(ctx.events, { publish: () => 'mine' })),
      }
      const listed = ctx.services.list()
      return {
        frozen: Object.isFrozen(ctx) && Object.isFrozen(ctx.services) && Object.isFrozen(ctx.events)
          && Object.isFrozen(ctx.state) && Object.isFrozen(ctx.storage),
        plainProto: servicesProto === Object.prototype || servicesProto === null,
        ctxCtorIsPlain: ctx.constructor === undefined || ctx.constructor === Object,
        viaCtor,
        names: reachable(ctx),
        mutations,
        callSecret: await code(() => ctx.services.call('victim.secret', {})),
        hijack: await code(() => ctx.services.register('victim.public', () => 'hijacked', any)),
        listedFunctions: listed.flatMap((s) => Object.values(s).filter((v) => typeof v === 'function')).length,
        listedFrozen: Object.isFrozen(listed),
        publishOther: await code(() => ctx.events.publish('victim.changed', {})),
        publishKernel: await code(() => ctx.events.publish('core.plugin.failed', { name: 'victim' })),
        writeOther: await code(() => ctx.state.set('victim', 'k', 1)),
        readOtherStorage: await code(() => ctx.storage.forNamespace?.('victim')),
        polluteEvent: await code(() =>
          ctx.events.publish('escaper.data', JSON.parse('{"__proto__":{"polluted":true},"a":1}'))),
        polluteParams: await ctx.services.call('victim.public', JSON.parse('{"__proto__":{"admin":true}}')),
        objectPolluted: ({}).polluted ?? ({}).admin ?? null,
      }
    }, any)
  },
}
`

async function stage(dir: string, isolation: 'inline' | 'worker'): Promise<void> {
  const plugin = async (name: string, source: string, manifest: Record<string, unknown>) => {
    const folder = join(dir, 'plugins', name)
    await mkdir(folder, { recursive: true })
    await writeFile(join(folder, 'index.js'), source)
    await writeFile(
      join(folder, 'package.json'),
      JSON.stringify({
        name,
        version: '1.0.0',
        type: 'module',
        corePlugin: { name, entry: './index.js', coreApi: '^1.0.0', ...manifest },
      }),
    )
  }
  await plugin('victim', VICTIM, {})
  await plugin('escaper', ESCAPER, {
    isolation,
    permissions: { services: { call: ['victim.public'] } },
  })
}

for (const isolation of ['inline', 'worker'] as const) {
  describe(`a plugin escaping through ctx (isolation ${isolation})`, () => {
    let dir: string
    let hub: RunningHub
    const adminToken = randomBytes(32).toString('hex')
    let report: Record<string, unknown>
    const seen: CloudEvent[] = []

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), `hub-escape-${isolation}-`))
      await stage(dir, isolation)
      const file = await writeHubConfig(dir, {
        pluginDirs: ['./plugins'],
        dataDir: './data',
        http: { port: 0 },
        mqtt: { enabled: false },
        lifecycleTimeoutMs: 30_000,
      })
      const config = await loadHubConfig({
        argv: ['--config', file],
        env: { CORE_ADMIN_TOKEN: adminToken },
      })
      ;(globalThis as Record<string, unknown>).__kernelSecret = 'the hub'
      hub = await startHub(config, { logger: silentLogger })
      expect(hub.report.started.sort()).toEqual(['escaper', 'victim'])
      hub.kernel.bus.subscribe('escaper.data', (event) => {
        seen.push(event)
      })
      report = (await hub.kernel.services.call('escaper.probe', {})) as Record<string, unknown>
    }, 60_000)

    afterAll(async () => {
      delete (globalThis as Record<string, unknown>).__kernelSecret
      await hub?.stop()
      await rm(dir, { recursive: true, force: true })
    })

    it('finds ctx plain and frozen: no kernel class, no internals by prototype walking or Reflect.ownKeys', () => {
      expect(report.frozen).toBe(true)
      expect(report.plainProto).toBe(true)
      expect(report.ctxCtorIsPlain).toBe(true)
      const names = report.names as string[]
      expect(names).toEqual(expect.arrayContaining(['services', 'events', 'state', 'storage']))
      for (const name of INTERNALS) expect(names, name).not.toContain(name)
    })

    it('cannot replace, add, delete or re-prototype any part of ctx', () => {
      expect(report.mutations).toEqual({
        assign: 'TypeError',
        define: 'TypeError',
        remove: 'TypeError',
        protoSwap: 'TypeError',
      })
    })

    it("reaches no other plugin's handlers: a secret call, a hijack and foreign or kernel topics are E_FORBIDDEN", async () => {
      expect(report.callSecret).toBe('E_FORBIDDEN')
      expect(report.hijack).toBe('E_FORBIDDEN')
      expect(report.publishOther).toBe('E_FORBIDDEN')
      expect(report.publishKernel).toBe('E_FORBIDDEN')
      expect(report.writeOther).toBe('E_FORBIDDEN')
      expect(report.listedFunctions).toBe(0)
      expect(report.listedFrozen).toBe(true)
      // The victim's service still answers as the victim wrote it.
      expect(await hub.kernel.services.call('victim.secret', {})).toBe('the secret')
      expect((await hub.kernel.plugins.get('escaper')).denials).toBeGreaterThanOrEqual(5)
    })

    it('gets no kernel object through a constructor: only its own realm', () => {
      const via = report.viaCtor as Record<string, unknown>
      // Only the ordinary Function of the plugin's own realm: no kernel-made constructor.
      expect(via.realmFunction).toBe(true)
      if (isolation === 'worker') {
        // The worker's own process object: another thread, without the hub's secrets or globals.
        expect(via).toMatchObject({ mainThread: false, token: null, secret: null })
      } else {
        // Inline code shares the hub's realm by design (the trusted level, docs/security.md):
        // the constructor leads to the globals the plugin already has, and no further.
        expect(via.secret).toBe('the hub')
      }
    })

    it('cannot pollute prototypes through event data or service params', async () => {
      expect(report.polluteEvent).toBe('allowed')
      await expect.poll(() => seen.length).toBe(1)
      const data = seen[0]?.data as Record<string, unknown>
      expect(data.a).toBe(1)
      expect(data.polluted).toBeUndefined()
      expect(report.polluteParams).toMatchObject({ admin: null, protoIsObject: true })
      expect(report.objectPolluted).toBeNull()
      expect(({} as Record<string, unknown>).polluted).toBeUndefined()
      expect(({} as Record<string, unknown>).admin).toBeUndefined()
    })
  })
}
