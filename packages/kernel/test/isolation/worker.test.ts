import { fileURLToPath } from 'node:url'
import { threadId } from 'node:worker_threads'
import { type CloudEvent, CoreError, silentLogger } from '@core/contracts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createKernel, type InlinePlugin, type Kernel } from '../../src/index.js'
import { capturingLogger, testKernel } from '../helpers.js'

const worky = fileURLToPath(new URL('./fixtures/worky', import.meta.url))
const hangy = fileURLToPath(new URL('./fixtures/hangy', import.meta.url))
const classy = fileURLToPath(new URL('./fixtures/classy', import.meta.url))

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
  kernel.services.call(name, params) as Promise<T>

describe('worker isolation: the ctx over the boundary', () => {
  let kernel: Kernel
  const logs: unknown[][] = []
  beforeAll(async () => {
    kernel = createKernel({
      logger: capturingLogger(logs),
      plugins: [host, worky],
      config: { worky: { greeting: 'hello' } },
      lifecycleTimeoutMs: 10_000,
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
  })
  afterAll(async () => {
    await kernel.stop()
  })

  it('serves a validated call into the worker, with params frozen there and config applied', async () => {
    const out = await call(kernel, 'worky.echo', { a: [1] })
    expect(out).toEqual({
      params: { a: [1] },
      frozen: true,
      caller: null,
      greeting: 'hello',
      thread: expect.any(Number),
    })
    expect(out.thread).not.toBe(threadId)
    await expect(call(kernel, 'worky.add', { a: 'x', b: 1 })).rejects.toMatchObject({
      code: 'E_VALIDATION',
    })
  })

  it('lists each plugin with its isolation level', async () => {
    expect((await kernel.plugins.get('worky')).isolation).toBe('worker')
    expect((await kernel.plugins.get('host')).isolation).toBe('inline')
  })

  it('lets the worker call a service of the hub (permission checked on the kernel side)', async () => {
    expect(await call(kernel, 'worky.add', { a: 2, b: 3 })).toEqual({ sum: 5 })
  })

  it('carries events both ways, deep-frozen in the worker', async () => {
    const pongs: CloudEvent[] = []
    const off = kernel.bus.subscribe('worky.pong', (event) => {
      pongs.push(event)
    })
    await kernel.bus.publish('host.ping', { n: 1, nested: { deep: true } })
    await expect.poll(() => pongs.length).toBe(1)
    expect(pongs[0]?.data).toEqual({ got: { n: 1, nested: { deep: true } }, frozen: true })
    expect(pongs[0]?.source).toBe('/plugins/worky')
    off()
  })

  it('reads and writes state and storage, a transaction committing or rolling back whole', async () => {
    expect(await call(kernel, 'worky.state', { value: { on: true } })).toEqual({
      value: { on: true },
      has: true,
    })
    expect((await kernel.state.get('worky', 'k'))?.value).toEqual({ on: true })
    expect(await call(kernel, 'worky.storage')).toEqual({
      a: { n: 1 },
      b: { n: 2 },
      c: null,
      count: 2,
      failed: 'Error: roll back',
    })
    expect(await kernel.storage.forNamespace('worky').get('b')).toEqual({ n: 2 })
  })

  it('refuses what the manifest does not grant with E_FORBIDDEN, as inline (subscribe throws synchronously)', async () => {
    const before = (await kernel.plugins.get('worky')).denials
    expect(await call(kernel, 'worky.denied')).toEqual({
      subscribe: 'E_FORBIDDEN',
      publish: 'E_FORBIDDEN',
      kernelTopic: 'E_FORBIDDEN',
      call: 'E_FORBIDDEN',
      register: 'E_FORBIDDEN',
      stateGet: 'E_FORBIDDEN',
      stateWatch: 'E_FORBIDDEN',
      storage: 'E_FORBIDDEN',
    })
    expect((await kernel.plugins.get('worky')).denials).toBe(before + 8)
  })

  it('keeps the synchronous ctx methods synchronous in the worker', async () => {
    const subscriptions = kernel.bus.stats().subscriptions
    expect(await call(kernel, 'worky.sync')).toEqual({
      off: 'function',
      has: true,
      listed: true,
      listFrozen: true,
    })
    expect(kernel.bus.stats().subscriptions).toBe(subscriptions)
  })

  it('reaches nothing of the kernel by prototypes, constructors or forged messages', async () => {
    ;(globalThis as Record<string, unknown>).__kernelSecret = 'the hub'
    try {
      const out = await call<{
        names: string[]
        ctxFrozen: boolean
        viaConstructor: unknown
        unknownHandle: string
        pollute: string
      }>(kernel, 'worky.walk')
      expect(out.ctxFrozen).toBe(true)
      expect(out.viaConstructor).toBeNull()
      expect(out.unknownHandle).toBe('E_FORBIDDEN')
      expect(out.pollute).toBe('E_VALIDATION')
      expect(({} as Record<string, unknown>).polluted).toBeUndefined()
      for (const name of [
        'bus',
        'registry',
        'records',
        'kernel',
        'handle',
        'deps',
        '__kernelSecret',
      ])
        expect(out.names).not.toContain(name)
      expect(out.names).toEqual(
        expect.arrayContaining(['events', 'publish', 'subscribe', 'signal']),
      )
    } finally {
      delete (globalThis as Record<string, unknown>).__kernelSecret
    }
  })

  it('hands a service handler its context: fields, meta and deadline as the kernel has them, frozen', async () => {
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'
    const before = Date.now()
    const out = await kernel.services.call(
      'worky.context',
      {},
      { meta: { traceparent, caller: 'tester', n: [1] }, timeoutMs: 5_000 },
    )
    expect(out).toEqual({
      name: 'worky.context',
      version: '1.0.0',
      caller: 'tester',
      traceparent,
      meta: { traceparent, caller: 'tester', n: [1] },
      deadlineAt: expect.any(Number),
      frozen: true,
      prototype: true,
      aborted: false,
    })
    const { deadlineAt } = out as { deadlineAt: number }
    expect(deadlineAt).toBeGreaterThanOrEqual(before + 5_000)
    expect(deadlineAt).toBeLessThanOrEqual(Date.now() + 5_000)
    // no meta given: an empty frozen one, as inline
    expect(await kernel.services.call('worky.context', {})).toMatchObject({
      meta: {},
      caller: null,
      traceparent: null,
      frozen: true,
    })
  })

  it("aborts the handler's signal in the worker when the call times out or the caller cancels", async () => {
    const codes: unknown[] = []
    const off = kernel.bus.subscribe('worky.aborted', (e) => {
      codes.push((e.data as { code: unknown }).code)
    })
    try {
      await expect(
        kernel.services.call('worky.waitAbort', {}, { timeoutMs: 50 }),
      ).rejects.toMatchObject({ code: 'E_TIMEOUT' })
      await expect.poll(() => codes).toEqual(['E_TIMEOUT'])
      const caller = new AbortController()
      const cancelled = kernel.services.call('worky.waitAbort', {}, { signal: caller.signal })
      // Only once the handler has read its signal is there something to abort in the worker.
      await expect.poll(() => kernel.services.call('worky.add', { a: 1, b: 1 })).toEqual({ sum: 2 })
      caller.abort()
      await expect(cancelled).rejects.toMatchObject({ code: 'E_CANCELLED' })
      await expect.poll(() => codes).toEqual(['E_TIMEOUT', 'E_CANCELLED'])
    } finally {
      off()
    }
  })

  it('refuses with E_VALIDATION what cannot cross the boundary, and carries the rest of the batch', async () => {
    await expect(kernel.services.call('worky.uncloneable', {})).rejects.toMatchObject({
      code: 'E_VALIDATION',
      message: expect.stringContaining('Cannot pass this result across the isolation boundary'),
    })
    expect(await call(kernel, 'worky.uncloneableArgs')).toEqual({
      symbol: 'E_VALIDATION',
      sum: { sum: 3 },
    })
  })

  it("gives the worker the hub's environment without its secrets", async () => {
    expect(await call(kernel, 'worky.env')).toEqual({ token: null, path: 'string' })
  })

  it('turns a plain error thrown in the worker into E_HANDLER with its message', async () => {
    const error = await call(kernel, 'worky.throw').catch((e: unknown) => e)
    expect(CoreError.is(error, 'E_HANDLER')).toBe(true)
    expect((error as Error).message).toContain('plain failure')
  })

  it("sends the worker's log records to the plugin's logger, with the child bindings", async () => {
    await call(kernel, 'worky.log', { text: 'over the wall' })
    await expect
      .poll(() => logs.find((r) => (r[2] as unknown[])[1] === 'worker says'))
      .toEqual([
        'info',
        { plugin: 'worky', part: 'logs' },
        [{ text: 'over the wall' }, 'worker says'],
      ])
  })

  it('runs ctx timers in the worker', async () => {
    const ticks: CloudEvent[] = []
    const off = kernel.bus.subscribe('worky.ticked', (e) => {
      ticks.push(e)
    })
    await call(kernel, 'worky.timer', { ms: 5 })
    await expect.poll(() => ticks.map((t) => t.data)).toEqual([{ ms: 5 }])
    off()
  })

  it('aborts ctx.signal in the worker when the plugin stops, and renews it when it starts', async () => {
    expect(await call(kernel, 'worky.signal')).toEqual({ aborted: false })
    await kernel.plugins.stop('worky')
    expect(await call(kernel, 'worky.signal')).toEqual({ aborted: true })
    await kernel.plugins.start('worky')
    expect(await call(kernel, 'worky.signal')).toEqual({ aborted: false })
  })
})

const fast = {
  heartbeatMs: 50,
  watchdogMs: 1_000,
  restart: { initialDelayMs: 20, maxDelayMs: 100, attempts: 3 },
}

/** A watchdog that a loaded machine cannot trip by accident, for the tests that do not loop. */
const calm = { ...fast, watchdogMs: 20_000 }

async function faultKernel(isolation: typeof fast = fast): Promise<Kernel> {
  const kernel = testKernel({
    logger: silentLogger,
    plugins: [host, worky],
    lifecycleTimeoutMs: 10_000,
    isolation,
  })
  await kernel.start()
  return kernel
}

describe('worker isolation: faults end only the worker', () => {
  it('terminates a worker whose handler loops forever, fails the plugin, keeps the hub serving, restarts it', async () => {
    const kernel = await faultKernel()
    const firstThread = await call<number>(kernel, 'worky.thread')
    const failures: CloudEvent[] = []
    kernel.bus.subscribe('core.plugin.failed', (e) => {
      failures.push(e)
    })
    const looping = call(kernel, 'worky.loop').catch((e: unknown) => e)
    // The hub's own thread is free meanwhile.
    expect(await call<string>(kernel, 'host.alive')).toBe('yes')
    const error = await looping
    expect(CoreError.is(error)).toBe(true)
    expect((error as Error).message).toContain('event loop blocked')
    await expect.poll(() => failures.length).toBe(1)
    const failed = failures[0]?.data as { name: string; error: { message: string }; reason: string }
    expect(failed.name).toBe('worky')
    expect(failed.error.message).toContain('Plugin "worky": event loop blocked')
    expect(failed.reason).toContain('restarting in 20 ms (attempt 1 of 3)')
    expect((await kernel.health()).plugins.host?.status).toBe('healthy')
    await expect.poll(async () => (await kernel.plugins.get('worky')).state).toBe('started')
    const secondThread = await call<number>(kernel, 'worky.thread')
    expect(secondThread).not.toBe(firstThread)
    expect((await kernel.health()).status).toBe('healthy')
  })

  it('terminates a worker that allocates without bound, without harming the hub', async () => {
    // The allocation loop must end by the heap limit, not by the watchdog.
    const kernel = await faultKernel(calm)
    const error = await call(kernel, 'worky.alloc').catch((e: unknown) => e)
    expect(CoreError.is(error)).toBe(true)
    expect((error as Error).message).toContain('ran out of memory (worker heap limit 32 MB)')
    expect(await call<string>(kernel, 'host.alive')).toBe('yes')
    await expect.poll(async () => (await kernel.plugins.get('worky')).state).toBe('started')
    expect(await call(kernel, 'worky.add', { a: 1, b: 1 })).toEqual({ sum: 2 })
  })

  it('ends only the worker on process.exit() in the plugin', async () => {
    const kernel = await faultKernel(calm)
    const error = await call(kernel, 'worky.exit').catch((e: unknown) => e)
    expect(CoreError.is(error)).toBe(true)
    expect((error as Error).message).toContain('exited with code 3')
    expect(await call<string>(kernel, 'host.alive')).toBe('yes')
    await expect.poll(async () => (await kernel.plugins.get('worky')).state).toBe('started')
  })

  it('refuses an asynchronous ctx function forged onto the synchronous port', async () => {
    const kernel = await faultKernel(calm)
    // events.publish, services.call, state.*, storage.*… (unattended promises on the hub)
    expect(await call<number>(kernel, 'worky.forgeSync')).toBeGreaterThan(10)
    expect(await call<string>(kernel, 'host.alive')).toBe('yes')
  })

  it('leaves the plugin failed, with the reason, after the bounded restarts', async () => {
    const kernel = await faultKernel({ ...calm, restart: { ...fast.restart, attempts: 1 } })
    await call(kernel, 'worky.exit').catch(() => undefined)
    await expect.poll(async () => (await kernel.plugins.get('worky')).state).toBe('started')
    await call(kernel, 'worky.exit').catch(() => undefined)
    await expect
      .poll(async () => (await kernel.plugins.get('worky')).reason)
      .toContain('left failed after 1 restarts')
    const info = await kernel.plugins.get('worky')
    expect(info.state).toBe('failed')
    expect(info.error?.message).toContain('exited with code 3')
    expect((await kernel.health()).plugins.worky?.status).not.toBe('healthy')
  })
})

describe('worker isolation: a failed step', () => {
  it('ends the worker of a plugin whose setup timed out', async () => {
    const logs: unknown[][] = []
    const kernel = testKernel({
      logger: capturingLogger(logs),
      plugins: [hangy],
      lifecycleTimeoutMs: { setup: 1_000 },
    })
    const ticks = () => logs.filter((r) => (r[2] as unknown[])[0] === 'tick').length
    const report = await kernel.start()
    expect(report.failed.map((f) => [f.name, f.step, f.error.details?.cause])).toEqual([
      ['hangy', 'setup', 'E_TIMEOUT'],
    ])
    expect(ticks()).toBeGreaterThan(0)
    // Once its worker is gone, the ticks stop.
    await expect
      .poll(async () => {
        const before = ticks()
        await new Promise((r) => setTimeout(r, 100))
        return ticks() - before
      })
      .toBe(0)
  })
})

describe('worker isolation: entry shapes', () => {
  it("runs a class plugin's data migrations in the worker, against the kernel's storage", async () => {
    const kernel = testKernel({ plugins: [classy] })
    const report = await kernel.start()
    expect(report.started).toEqual(['classy'])
    expect(await kernel.services.call('classy.seed', {})).toEqual({ v: 2 })
    expect(await kernel.storage.forNamespace('classy').get('seed')).toEqual({ v: 2 })
  })
})

describe('worker isolation: manifests', () => {
  it('refuses a worker plugin given as an object (it runs from its package folder)', async () => {
    const kernel = testKernel({
      plugins: [
        { manifest: { name: 'objecty', coreApi: '^1.0.0', isolation: 'worker' }, plugin: {} },
      ],
    })
    const report = await kernel.start()
    const error = report.failed[0]?.error
    expect(report.failed[0]?.name).toBe('objecty')
    expect(error?.code).toBe('E_PLUGIN_LIFECYCLE')
    expect(error?.message).toContain(
      'is given as an object: an isolated plugin runs from its package folder',
    )
    expect(error?.details?.cause).toBe('E_PLUGIN_MANIFEST')
  })

  it('refuses a malformed isolation option with E_VALIDATION', () => {
    expect(() => createKernel({ isolation: { watchdogMs: -1 } })).toThrow(
      expect.objectContaining({ code: 'E_VALIDATION' }),
    )
  })
})
