import {
  assertPublishableTopic,
  type Clock,
  CoreError,
  deepFreeze,
  type Logger,
  type PluginManifest,
  type Undo,
} from '@core/contracts'
import type { EventBus } from '@core/event-bus'
import type { ServiceRegistry } from '@core/service-registry'
import type { ListStateOptions, StateEngine } from '@core/state-engine'
import type { IterateOptions, NamespacedStorage, Storage, StorageEntry } from '@core/storage'
import type { PermissionChecker, PermissionKind } from './permissions.js'
import type {
  PluginContext,
  PluginStorage,
  ScopedEvents,
  ScopedServices,
  ScopedState,
  ScopedStorage,
  ScopedTimers,
  TimerHandle,
} from './types.js'

/** Live resources made through one context, by kind. @internal */
export interface ResourceCounts {
  subscriptions: number
  services: number
  watches: number
  timers: number
}

/** What the kernel gives {@link createScopedContext}. @internal */
export interface ContextDeps {
  name: string
  version: string
  manifest: PluginManifest
  config: Readonly<Record<string, unknown>>
  bus: EventBus
  services: ServiceRegistry
  state: StateEngine
  storage: Storage
  clock: Clock
  logger: Logger
  permissions: PermissionChecker
  /** Called on every refusal (after the checker counted it). */
  onDenied: (error: CoreError) => void
}

/** A context and its controls, held by the kernel. @internal */
export interface ContextHandle {
  ctx: PluginContext<Record<string, unknown>>
  /** Aborts `ctx.signal` (the plugin is stopping). */
  abort(reason?: unknown): void
  /** Gives `ctx.signal` a fresh, live signal (the plugin starts again). */
  renew(): void
  /** Releases every subscription, registration, watch and timer; the context refuses further use. */
  release(): void
  counts(): ResourceCounts
}

/**
 * Builds a plugin's scoped context: the bus, services, state and storage seen through its
 * manifest permissions, its logger, signal and timers, with every resource tracked so that
 * `release()` undoes all of it.
 * @internal
 */
export function createScopedContext(deps: ContextDeps): ContextHandle {
  const { name, permissions: perms, clock } = deps
  const source = `/plugins/${name}`
  let released = false
  let controller = new AbortController()
  const undos = {
    subscriptions: new Set<() => void>(),
    services: new Set<() => void>(),
    watches: new Set<() => void>(),
  }
  const timers = new Map<number, { handle: unknown }>()
  let nextTimer = 1

  const live = (): void => {
    if (released) {
      throw new CoreError(
        'E_UNAVAILABLE',
        `Plugin "${name}" was unloaded: this context is no longer usable (an old module instance still running after a reload?)`,
        { details: { plugin: name } },
      )
    }
  }
  const check = (kind: PermissionKind, resource: string): void => {
    if (perms.allows(kind, resource)) return
    const error = perms.deny(kind, resource)
    deps.onDenied(error)
    throw error
  }
  /** Topics under `state.` and `core.` are the kernel's, whatever the manifest says. */
  const kernelOnly = (type: string): void => {
    if (typeof type !== 'string') return // the bus refuses it with E_VALIDATION
    try {
      assertPublishableTopic(type, `plugin "${name}"`)
    } catch (error) {
      deps.onDenied(error as CoreError)
      throw error
    }
  }
  const track = (kind: keyof typeof undos, undo: () => void): Undo => {
    let done = false
    const once = (): void => {
      if (done) return
      done = true
      undos[kind].delete(once)
      undo()
    }
    undos[kind].add(once)
    return Object.assign(once, { [Symbol.dispose]: once }) as Undo
  }

  const events: ScopedEvents = {
    publish: async (type, data, options) => {
      live()
      kernelOnly(type)
      check('events.publish', type)
      return deps.bus.publish(type, data, { source, ...options })
    },
    subscribe: (pattern, handler, options) => {
      live()
      check('events.subscribe', pattern)
      const off = deps.bus.subscribe(pattern, handler, { name, ...options })
      return track('subscriptions', off)
    },
    defineEvent: (type, schema) => {
      live()
      kernelOnly(type)
      check('events.publish', type)
      return track('subscriptions', deps.bus.defineEvent(type, schema))
    },
  }

  const services: ScopedServices = {
    register: (service, handler, options) => {
      live()
      check('services.register', service)
      return track('services', deps.services.register(service, handler, options))
    },
    call: async (service, params, options) => {
      live()
      check('services.call', service)
      return deps.services.call(service, params, {
        ...options,
        meta: { ...options?.meta, caller: name },
      })
    },
    has: (service, version) => deps.services.has(service, version),
    list: () => {
      const list = deps.services.list()
      deepFreeze(list)
      return list
    },
  }

  const state: ScopedState = {
    set: async (ns, key, value, options) => {
      live()
      check('state.write', `${ns}.${key}`)
      return deps.state.set(ns, key, value, options)
    },
    get: async (ns, key) => {
      live()
      check('state.read', `${ns}.${key}`)
      return deps.state.get(ns, key)
    },
    delete: async (ns, key, options) => {
      live()
      check('state.write', `${ns}.${key}`)
      return deps.state.delete(ns, key, options)
    },
    has: async (ns, key) => {
      live()
      check('state.read', `${ns}.${key}`)
      return deps.state.has(ns, key)
    },
    list: async <T>(ns: string, options?: ListStateOptions) => {
      live()
      if (ns === name) return Object.freeze(await deps.state.list<T>(ns, options)) as never
      if (!perms.touches('state.read', ns)) check('state.read', `${ns}.#`)
      const items = await deps.state.list<T>(ns, options)
      return Object.freeze(
        items.filter((item) => perms.allows('state.read', `${ns}.${item.key}`)),
      ) as never
    },
    watch: (ns, keyPattern, handler, options) => {
      live()
      check('state.read', `${ns}.${keyPattern}`)
      return track('watches', deps.state.watch(ns, keyPattern, handler, { name, ...options }))
    },
  }

  const bound = (ns: string): ScopedStorage => {
    const view = deps.storage.forNamespace(ns)
    // The own namespace needs no check, unless an operator policy may narrow it.
    if (ns === name && !perms.narrowed) return plainStorage(view, ns, live)
    return plainStorage(view, ns, (kind, resource) => {
      live()
      check(kind, resource)
    })
  }
  const storage: PluginStorage = Object.freeze({
    ...bound(name),
    forNamespace: (ns: string): ScopedStorage => {
      live()
      return bound(ns)
    },
  })

  const clearTimer = (handle: TimerHandle | undefined): void => {
    if (handle === undefined) return
    const t = timers.get(handle.id)
    if (t === undefined) return
    timers.delete(handle.id)
    clock.clearTimeout(t.handle)
  }
  const runTimer = (handler: () => void, what: string): void => {
    try {
      handler()
    } catch (error) {
      deps.logger.error({ err: error, plugin: name }, `${what} handler of plugin "${name}" threw`)
    }
  }
  const scopedTimers: ScopedTimers = {
    setTimeout: (handler, delayMs) => {
      live()
      const id = nextTimer++
      const entry = { handle: undefined as unknown }
      entry.handle = clock.setTimeout(() => {
        timers.delete(id)
        runTimer(handler, 'setTimeout')
      }, delayMs)
      timers.set(id, entry)
      return { id }
    },
    setInterval: (handler, intervalMs) => {
      live()
      const id = nextTimer++
      const entry = { handle: undefined as unknown }
      const arm = (): void => {
        entry.handle = clock.setTimeout(() => {
          if (!timers.has(id)) return
          arm()
          runTimer(handler, 'setInterval')
        }, intervalMs)
      }
      arm()
      timers.set(id, entry)
      return { id }
    },
    clearTimeout: clearTimer,
    clearInterval: clearTimer,
  }

  Object.freeze(events)
  Object.freeze(services)
  Object.freeze(state)
  Object.freeze(scopedTimers)
  const manifest = structuredClone(deps.manifest)
  deepFreeze(manifest)
  deepFreeze(deps.config)
  const ctx: PluginContext<Record<string, unknown>> = Object.freeze({
    name,
    version: deps.version,
    manifest,
    config: deps.config,
    logger: plainLogger(deps.logger),
    get signal() {
      return controller.signal
    },
    events,
    services,
    state,
    storage,
    timers: scopedTimers,
    setTimeout: scopedTimers.setTimeout,
    setInterval: scopedTimers.setInterval,
    clearTimeout: scopedTimers.clearTimeout,
    clearInterval: scopedTimers.clearInterval,
  })

  return {
    ctx,
    abort: (reason) => {
      if (!controller.signal.aborted) controller.abort(reason)
    },
    renew: () => {
      if (controller.signal.aborted) controller = new AbortController()
    },
    release: () => {
      released = true
      if (!controller.signal.aborted)
        controller.abort(new CoreError('E_CANCELLED', `Plugin "${name}" unloaded`))
      for (const set of Object.values(undos)) {
        for (const undo of [...set]) {
          try {
            undo()
          } catch (error) {
            deps.logger.warn({ err: error, plugin: name }, 'releasing a plugin resource failed')
          }
        }
      }
      for (const t of timers.values()) clock.clearTimeout(t.handle)
      timers.clear()
    },
    counts: () => ({
      subscriptions: undos.subscriptions.size,
      services: undos.services.size,
      watches: undos.watches.size,
      timers: timers.size,
    }),
  }
}

/**
 * A storage view as a plugin sees it: a plain frozen object of the documented methods, each
 * running `guard(kind, resource)` first (liveness, and permissions for another namespace). A
 * transaction's handle is wrapped the same way, so nothing of the storage is reachable.
 */
function plainStorage(
  view: NamespacedStorage,
  ns: string,
  guard: (kind: PermissionKind, resource: string) => void,
): ScopedStorage {
  const whole = `${ns}.#`
  const run = async <T>(
    kind: PermissionKind,
    resource: string,
    work: () => Promise<T>,
  ): Promise<T> => {
    guard(kind, resource)
    return work()
  }
  return Object.freeze({
    namespace: ns,
    get: (key) => run('storage.read', `${ns}.${key}`, () => view.get(key)),
    has: (key) => run('storage.read', `${ns}.${key}`, () => view.has(key)),
    set: (key, value) => run('storage.write', `${ns}.${key}`, () => view.set(key, value)),
    delete: (key) => run('storage.write', `${ns}.${key}`, () => view.delete(key)),
    count: (options) => run('storage.read', whole, () => view.count(options)),
    list: (options) => run('storage.read', whole, () => view.list(options)),
    iterate: (options) => iterateGuarded(() => guard('storage.read', whole), view, options),
    query: (options) => run('storage.read', whole, () => view.query(options)),
    batch: (ops) => run('storage.write', whole, () => view.batch(ops)),
    transaction: (fn) =>
      run('storage.write', whole, () =>
        view.transaction((tx) => fn(plainStorage(tx, ns, noGuard))),
      ),
  } as ScopedStorage)
}

/** `view.iterate` behind `check`, which runs on the first `next()` (as storage validates). */
async function* iterateGuarded(
  check: () => void,
  view: NamespacedStorage,
  options: IterateOptions | undefined,
): AsyncGenerator<StorageEntry, void, undefined> {
  check()
  yield* view.iterate(options)
}

/** Inside a transaction already checked: nothing more to check. */
const noGuard = (): void => {}

/**
 * The plugin's logger as a plain frozen object of the {@link Logger} methods: the pino child
 * behind it is reachable by no property or prototype.
 */
function plainLogger(logger: Logger): Logger {
  const call =
    (level: 'debug' | 'info' | 'warn' | 'error') =>
    (...args: unknown[]): void => {
      ;(logger[level] as (...a: unknown[]) => void)(...args)
    }
  return Object.freeze({
    debug: call('debug') as Logger['debug'],
    info: call('info') as Logger['info'],
    warn: call('warn') as Logger['warn'],
    error: call('error') as Logger['error'],
    child: (bindings: Record<string, unknown>): Logger => plainLogger(logger.child(bindings)),
  })
}
