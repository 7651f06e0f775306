import { CoreError } from '@core/contracts'
import type { NamespacedStorage } from '@core/storage'
import type { ScopedServices } from '../context-types.js'
import type { PluginContext, PluginHooks, PluginMigrations } from '../types.js'
import type { Peer } from './peer.js'
import type { IsolatedSession } from './session.js'

/** Kernel-side ctx methods that return synchronously (the worker blocks on them). */
const SYNC_METHODS: Record<string, readonly string[]> = {
  events: ['subscribe', 'defineEvent'],
  services: ['register', 'has', 'list'],
  state: ['watch'],
  storage: ['forNamespace'],
}

/**
 * The ctx's services as the worker gets them: `register` turns the worker's handler (a stub)
 * into one that takes the peer's service-call road (params and context fields only, the
 * signal mirrored only if the handler reads it); the kernel-side ctx still checks and
 * registers it, so permissions and schemas stay on this side.
 */
function workerServices(services: ScopedServices, peer: Peer): ScopedServices {
  return {
    register: (service, handler, options) =>
      services.register(
        service,
        (peer.serviceHandler(handler) as typeof handler | undefined) ?? handler,
        options,
      ),
    call: services.call,
    has: services.has,
    list: services.list,
  }
}

/** What crosses to the worker: the ctx's data and its namespaces, not its timers, signal or logger. */
function shippable(ctx: PluginContext<unknown>, peer: Peer): Record<string, unknown> {
  return {
    name: ctx.name,
    version: ctx.version,
    manifest: ctx.manifest,
    config: ctx.config,
    events: ctx.events,
    services: workerServices(ctx.services, peer),
    state: ctx.state,
    storage: ctx.storage,
  }
}

/** A storage view as a plain object of its methods (migrations get a class instance). */
function plainStorage(view: NamespacedStorage): Record<string, unknown> {
  return {
    namespace: view.namespace,
    get: (key: string) => view.get(key),
    has: (key: string) => view.has(key),
    set: (key: string, value: never) => view.set(key, value),
    delete: (key: string) => view.delete(key),
    count: (o?: never) => view.count(o),
    list: (o?: never) => view.list(o),
    query: (o: never) => view.query(o),
    batch: (ops: never) => view.batch(ops),
    transaction: (fn: (tx: unknown) => Promise<unknown>) =>
      view.transaction((tx) => fn(plainStorage(tx)) as Promise<never>),
  }
}

/** Whether the context was released by the kernel (it then refuses timers). */
function released(ctx: PluginContext<unknown>): boolean {
  try {
    ctx.clearTimeout(ctx.setTimeout(() => {}, 2 ** 30))
    return false
  } catch {
    return true
  }
}

/**
 * The plugin object the kernel drives for a `worker` plugin: its hooks forward to the worker,
 * `setup(ctx)` hands the worker handles to the kernel-side ctx (so every call is checked
 * there), `ctx.signal` is mirrored into the worker, and `unload()` ends the worker. Also ends
 * the worker when the kernel releases the context without unloading (a failed step).
 * @internal
 */
export function createWorkerPlugin(
  session: IsolatedSession,
  track: { enter(): void; leave(): void },
): { default: PluginHooks<unknown>; migrations: PluginMigrations | undefined } {
  let ctx: PluginContext<unknown> | undefined
  const inHook = async (work: () => Promise<unknown>): Promise<void> => {
    track.enter()
    try {
      await work()
    } finally {
      track.leave()
    }
  }
  let mirrored: AbortSignal | undefined
  const mirrorSignal = (): void => {
    const current = ctx
    if (current === undefined || current.signal === mirrored) return
    mirrored = current.signal
    current.signal.addEventListener(
      'abort',
      () => {
        if (released(current)) {
          void session.terminate()
          return
        }
        const reason = current.signal.reason
        session.post({
          t: 'signal-abort',
          e: CoreError.is(reason)
            ? reason.toJSON()
            : { name: 'Error', message: String((reason as Error)?.message ?? reason) },
        })
      },
      { once: true },
    )
  }
  const hooks: PluginHooks<unknown> = {
    setup: (given) =>
      inHook(async () => {
        ctx = given
        session.logTo(given.logger)
        const shipped = shippable(given, session.peer)
        for (const [ns, names] of Object.entries(SYNC_METHODS)) {
          const holder = (shipped as Record<string, Record<string, unknown>>)[ns]
          for (const n of names) {
            const fn = holder !== undefined && Object.hasOwn(holder, n) ? holder[n] : undefined
            if (typeof fn === 'function') session.syncFunctions.add(fn)
          }
        }
        mirrorSignal()
        await session.api.setup(shipped)
      }),
    start: () =>
      inHook(async () => {
        session.post({ t: 'signal-renew' })
        mirrorSignal()
        await session.api.start()
      }),
    stop: () => inHook(() => session.api.stop()),
    unload: () =>
      inHook(async () => {
        try {
          await session.api.unload()
        } finally {
          await session.terminate()
        }
      }),
  }
  const migrations =
    session.migrations.length === 0
      ? undefined
      : Object.fromEntries(
          session.migrations.map((key) => [
            key,
            (storage: NamespacedStorage) => session.api.migrate(key, plainStorage(storage)),
          ]),
        )
  return { default: hooks, migrations: migrations as PluginMigrations | undefined }
}
