import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type CloudEvent, CoreError, type Logger, type Undo } from '@core/contracts'
import { createFakeClock } from '@core/contracts/testing'
import { createTopicMatcher } from '@core/event-bus'
import {
  type BootReport,
  createKernel,
  type InlinePlugin,
  type PluginContext,
  type StopReport,
} from '@core/kernel'
import { toKernelPlugin } from './plugins.js'
import { createRecordingLogger, type LogRecord, type RecordingLogger } from './recording-logger.js'
import type {
  CallRecord,
  CreateMockHubOptions,
  ExpectEventOptions,
  MockHub,
  PluginActor,
  ServiceStub,
} from './types.js'

const DEFAULT_EXPECT_TIMEOUT_MS = 2_000
const DEFAULT_BOOT_TIMEOUT_MS = 5_000
const LOG_RANK = { debug: 20, info: 30, warn: 40, error: 50 } as const

interface Waiter<T> {
  accepts(item: T): boolean
  resolve(item: T): void
  reject(error: CoreError): void
}

/**
 * Creates an in-memory hub for testing plugins: a real `@core/kernel` on a {@link FakeClock}
 * and in-memory storage, with the given plugins (inline, folders, or a folder's manifest with
 * an implementation from source), stubs for the services they call, and recorders of every
 * event and service call.
 *
 * - `hub.as(name)` acts as a plugin through its own scoped context, so calls are
 *   permission-checked as the plugin's would be.
 * - `hub.events(pattern)` / `hub.expectEvent(pattern, { where, timeoutMs })` read and await
 *   CloudEvents envelopes; `hub.calls(name)` / `hub.expectCall(name)` the same for service calls.
 * - `hub.clock.advance(ms)` drives state TTLs, service deadlines, lifecycle timeouts and
 *   plugin timers (`ctx.setTimeout`/`setInterval`).
 * - `hub.state`, `hub.storage`, `hub.services`, `hub.bus` are the kernel's own, unrestricted.
 *
 * The recorder is a `#` subscription on the bus: it counts in `PublishReport.matched`.
 *
 * @see CloudEvents 1.0 (the recorded envelopes); AMQP 0-9-1 topic exchange matching (the
 *   patterns of `events` and `expectEvent`)
 * @param options - See {@link CreateMockHubOptions}; all optional.
 * @returns The {@link MockHub}, started unless `start: false`.
 * @throws {@link @core/contracts!CoreError} `E_PLUGIN_MANIFEST` for a plugin folder without a readable
 *   manifest or entry; `E_VALIDATION` for a bad option or stub; and whatever `kernel.start()`
 *   rejects with (`E_PLUGIN_LIFECYCLE` naming the plugin, the step and the cause;
 *   `E_PLUGIN_DEPENDENCY`; `E_PLUGIN_MANIFEST`); `E_TIMEOUT` when the boot takes longer than
 *   `bootTimeoutMs` of real time.
 * @example
 * ```ts
 * import { createMockHub } from '@core/testing'
 * import hello from '../src/index.js'
 *
 * const hub = await createMockHub({
 *   plugins: [{ packageDir: new URL('..', import.meta.url), plugin: hello }],
 *   config: { hello: { greeting: 'Hi' } },
 * })
 * expect(await hub.call('hello.greet', { name: 'Ada' })).toEqual({ message: 'Hi, Ada!' })
 * await hub.expectEvent('hello.greeted', { where: { name: 'Ada' } })
 * await hub.stop()
 * ```
 * @public
 */
export async function createMockHub(options: CreateMockHubOptions = {}): Promise<MockHub> {
  const clock = options.clock ?? createFakeClock()
  const recording: RecordingLogger | undefined =
    options.logger === undefined ? createRecordingLogger() : undefined
  const logger: Logger = options.logger ?? (recording as RecordingLogger)
  const contexts = new Map<string, PluginContext<unknown>>()
  const plugins: Array<InlinePlugin | string> = []
  const names: string[] = []
  for (const spec of options.plugins ?? []) {
    const made = await toKernelPlugin(spec, (ctx) => contexts.set(ctx.name, ctx))
    plugins.push(made.plugin)
    names.push(made.name)
  }
  // Isolated packages (given as folders): `process` plugins write under a folder of this hub's.
  const dataDir =
    plugins.some((p) => typeof p === 'string') && options.isolation?.dataDir === undefined
      ? await mkdtemp(join(tmpdir(), 'core-mock-hub-'))
      : undefined
  const kernel = createKernel({
    plugins,
    ...(options.isolation === undefined && dataDir === undefined
      ? {}
      : { isolation: { ...options.isolation, ...(dataDir === undefined ? {} : { dataDir }) } }),
    config: options.config ?? {},
    required: options.required ?? names,
    clock,
    logger,
    ...(options.storage === undefined ? {} : { storage: options.storage }),
    ...(options.persistState === undefined ? {} : { persistState: options.persistState }),
    ...(options.lifecycleTimeoutMs === undefined
      ? {}
      : { lifecycleTimeoutMs: options.lifecycleTimeoutMs }),
    ...(options.shutdownTimeoutMs === undefined
      ? {}
      : { shutdownTimeoutMs: options.shutdownTimeoutMs }),
  })

  // ─── recorders ───────────────────────────────────────────────────────────────────────────
  let events: CloudEvent[] = []
  let calls: CallRecord[] = []
  const taken = new WeakSet<object>()
  const eventWaiters = new Set<Waiter<CloudEvent>>()
  const callWaiters = new Set<Waiter<CallRecord>>()
  let logStart = 0

  const offEvents = kernel.bus.subscribe(
    '#',
    (event) => {
      events.push(event)
      offer(eventWaiters, event)
    },
    { name: 'mock-hub-recorder', maxQueue: 1_000_000 },
  )
  let inFlight = 0
  const offCalls = kernel.services.use(async (call, next) => {
    inFlight++
    const record: CallRecord = {
      name: call.name,
      version: call.version,
      params: copy(call.params),
      caller: typeof call.meta.caller === 'string' ? call.meta.caller : undefined,
      ok: false,
      at: clock.now(),
    }
    try {
      const result = await next()
      record.ok = true
      record.result = result
      return result
    } catch (error) {
      record.error = CoreError.is(error)
        ? error
        : new CoreError('E_INTERNAL', String(error), { cause: error })
      throw error
    } finally {
      inFlight--
      calls.push(record)
      offer(callWaiters, record)
    }
  })

  const stubs = new Set<Undo>()
  const stub = (name: string, given: ServiceStub): Undo => {
    const spec = typeof given === 'function' ? { handler: given } : given
    if (typeof spec !== 'object' || spec === null || typeof spec.handler !== 'function') {
      throw new CoreError(
        'E_VALIDATION',
        `Stub of "${name}" must be a handler function or { handler, params?, … }`,
        {
          details: { service: name },
        },
      )
    }
    const { handler, ...rest } = spec
    const off = kernel.services.register(name, handler as (p: unknown) => unknown, {
      params: {},
      description: `stub of ${name} (@core/testing)`,
      ...rest,
    })
    stubs.add(off)
    return off
  }
  for (const [name, s] of Object.entries(options.services ?? {})) stub(name, s)

  // ─── hub ─────────────────────────────────────────────────────────────────────────────────
  let report: BootReport | undefined
  let stopped: Promise<StopReport> | undefined
  let bootAbandoned = false

  const expect = <T extends object>(
    what: string,
    waiters: Set<Waiter<T>>,
    recorded: () => T[],
    accepts: (item: T) => boolean,
    timeoutMs: number,
    describeSeen: () => string,
  ): Promise<T> => {
    const found = recorded().find((item) => !taken.has(item) && accepts(item))
    if (found !== undefined) {
      taken.add(found)
      return Promise.resolve(found)
    }
    if (stopped !== undefined) {
      return Promise.reject(
        new CoreError('E_CANCELLED', `Cannot wait for ${what}: the mock hub is stopped`),
      )
    }
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.delete(waiter)
        reject(
          new CoreError(
            'E_TIMEOUT',
            `No ${what} within ${timeoutMs} ms (real time); seen: ${describeSeen()}`,
            {
              details: { timeoutMs },
            },
          ),
        )
      }, timeoutMs)
      const waiter: Waiter<T> = {
        accepts: (item) => !taken.has(item) && accepts(item),
        resolve: (item) => {
          clearTimeout(timer)
          taken.add(item)
          resolve(item)
        },
        reject: (error) => {
          clearTimeout(timer)
          reject(error)
        },
      }
      waiters.add(waiter)
    })
  }

  const hub: MockHub = {
    kernel,
    clock,
    bus: kernel.bus,
    services: kernel.services,
    state: kernel.state,
    storage: kernel.storage,
    plugins: kernel.plugins,
    get report() {
      return report
    },
    start: async () => {
      const limit = options.bootTimeoutMs ?? DEFAULT_BOOT_TIMEOUT_MS
      let timer: ReturnType<typeof setTimeout> | undefined
      const guard = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          bootAbandoned = true
          reject(
            new CoreError(
              'E_TIMEOUT',
              `The mock hub did not start within ${limit} ms of real time: a plugin is hanging in setup() or start()? With the fake clock, lifecycle timeouts fire only on hub.clock.advance(ms)`,
              { details: { bootTimeoutMs: limit } },
            ),
          )
        }, limit)
      })
      try {
        report = await Promise.race([kernel.start(), guard])
        return report
      } finally {
        clearTimeout(timer)
      }
    },
    stop: () => {
      stopped ??= (async () => {
        const result = await kernel.stop()
        if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true })
        await hub.settle()
        offEvents()
        offCalls()
        for (const off of stubs) off()
        const cancelled = new CoreError('E_CANCELLED', 'The mock hub was stopped while waiting')
        for (const w of [...eventWaiters, ...callWaiters]) w.reject(cancelled)
        eventWaiters.clear()
        callWaiters.clear()
        return result
      })()
      return stopped
    },
    health: () => kernel.health(),
    as: (name) => actor(name, contexts),
    call: (service, params = {}, callOptions) => kernel.services.call(service, params, callOptions),
    publish: (type, data, publishOptions) =>
      kernel.bus.publish(type, data === undefined ? {} : data, {
        source: '/test',
        ...publishOptions,
      }),
    stub,
    events: <T>(pattern?: string) => {
      if (pattern === undefined) return [...events] as CloudEvent<T>[]
      const m = matcher(pattern)
      return events.filter((e) => m(e.type)) as CloudEvent<T>[]
    },
    expectEvent: async <T>(pattern: string, expectOptions: ExpectEventOptions<T> = {}) => {
      const m = matcher(pattern)
      const where = expectOptions.where
      const accepts = (e: CloudEvent): boolean =>
        m(e.type) &&
        (where === undefined ||
          (typeof where === 'function' ? where(e as CloudEvent<T>) : contains(e.data, where)))
      return expect<CloudEvent>(
        `event matching "${pattern}"${where === undefined ? '' : ' (with where)'}`,
        eventWaiters,
        () => events,
        accepts,
        expectOptions.timeoutMs ?? DEFAULT_EXPECT_TIMEOUT_MS,
        () => summarise(events.map((e) => e.type)),
      ) as Promise<CloudEvent<T>>
    },
    calls: (name) => (name === undefined ? [...calls] : calls.filter((c) => c.name === name)),
    expectCall: (name, expectOptions = {}) => {
      const where = expectOptions.where
      const accepts = (c: CallRecord): boolean =>
        c.name === name &&
        (where === undefined ||
          (typeof where === 'function' ? where(c) : contains(c.params, where)))
      return expect<CallRecord>(
        `call of "${name}"${where === undefined ? '' : ' (with where)'}`,
        callWaiters,
        () => calls,
        accepts,
        expectOptions.timeoutMs ?? DEFAULT_EXPECT_TIMEOUT_MS,
        () => summarise(calls.map((c) => c.name)),
      )
    },
    logs: (level) => {
      const all: LogRecord[] = recording?.records.slice(logStart) ?? []
      return level === undefined ? all : all.filter((r) => LOG_RANK[r.level] >= LOG_RANK[level])
    },
    clear: () => {
      events = []
      calls = []
      logStart = recording?.records.length ?? 0
    },
    settle: async () => {
      for (let i = 0; i < 10_000; i++) {
        await new Promise<void>((resolve) => setImmediate(resolve))
        if (kernel.bus.stats().queued === 0 && inFlight === 0) return
      }
    },
  }

  if (options.start !== false) {
    try {
      await hub.start()
    } catch (error) {
      // A boot abandoned by the real-time guard still holds the kernel's queue: do not wait on it.
      if (!bootAbandoned) await hub.stop().catch(() => undefined)
      throw error
    }
  }
  return hub
}

function actor(name: string, contexts: Map<string, PluginContext<unknown>>): PluginActor {
  const current = (): PluginContext => {
    const ctx = contexts.get(name)
    if (ctx === undefined) {
      throw new CoreError(
        'E_NOT_FOUND',
        `No plugin "${name}" was set up in this mock hub; plugins with a context: ${[...contexts.keys()].join(', ') || 'none'}`,
        { details: { plugin: name } },
      )
    }
    return ctx as PluginContext
  }
  current()
  return {
    name,
    get ctx() {
      return current()
    },
    call: (service, params = {}, options) => current().services.call(service, params, options),
    publish: (type, data, options) =>
      current().events.publish(type, data === undefined ? {} : data, options),
  }
}

function offer<T>(waiters: Set<Waiter<T>>, item: T): void {
  for (const w of waiters) {
    if (w.accepts(item)) {
      waiters.delete(w)
      w.resolve(item)
      return
    }
  }
}

function matcher(pattern: string): (type: string) => boolean {
  const m = createTopicMatcher<true>({ cacheSize: 0 })
  m.add(pattern, true)
  return (type) => m.match(type).length > 0
}

/** Deep subset match: every member of `expected` is in `actual` (arrays: same length, element-wise). */
function contains(actual: unknown, expected: unknown): boolean {
  if (Object.is(actual, expected)) return true
  if (
    typeof expected !== 'object' ||
    expected === null ||
    typeof actual !== 'object' ||
    actual === null
  )
    return false
  if (Array.isArray(expected)) {
    return (
      Array.isArray(actual) &&
      actual.length === expected.length &&
      expected.every((v, i) => contains(actual[i], v))
    )
  }
  return Object.entries(expected).every(([k, v]) =>
    contains((actual as Record<string, unknown>)[k], v),
  )
}

function copy(value: unknown): unknown {
  try {
    return structuredClone(value)
  } catch {
    return value
  }
}

function summarise(names: string[]): string {
  if (names.length === 0) return 'none'
  const counts = new Map<string, number>()
  for (const n of names) counts.set(n, (counts.get(n) ?? 0) + 1)
  const parts = [...counts].map(([n, c]) => (c > 1 ? `${n} ×${c}` : n))
  return parts.length > 20
    ? `${parts.slice(0, 20).join(', ')}, and ${parts.length - 20} more`
    : parts.join(', ')
}
