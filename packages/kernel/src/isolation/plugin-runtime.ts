import type { Codec, ErrorJson } from './codec.js'
import type { createPeer, SyncReply, SyncRequest } from './peer.js'

/**
 * The channel between a plugin runtime and its host, shaped like a `MessagePort`: a worker's
 * `parentPort`, or a child process's IPC channel (`process.send` / `process.on('message')`).
 * @internal
 */
export interface RuntimePort {
  postMessage(message: unknown): void
  on(event: 'message', handler: (message: { t?: string; e?: ErrorJson }) => void): unknown
}

/** A blocking synchronous call to the host (see {@link pluginRuntime}). @internal */
export type CallSync = (request: Omit<SyncRequest, 'id'>) => SyncReply

/**
 * The runtime of an isolated plugin, shared by the `worker` and `process` levels: imports the
 * entry, builds the plugin's `ctx` from the handles the host sends (plus local timers, signal
 * and logger), runs the hooks the host asks for and answers heartbeats. Runs from its source
 * text (in a Worker or a child process), so it is self-contained: everything comes in through
 * its parameters (even `import()`, which transpilers may rewrite in place). `makeCallSync`
 * gets the runtime's error constructor and returns the level's blocking call.
 * @internal
 */
export function pluginRuntime(
  codec: Codec,
  makePeer: typeof createPeer,
  port: RuntimePort,
  makeCallSync: (makeError: (code: string, message: string) => Error) => CallSync,
  entryUrl: string,
  importModule: (url: string) => Promise<Record<string, unknown>>,
): void {
  type Hooks = Partial<Record<'setup' | 'start' | 'stop' | 'unload', (...a: unknown[]) => unknown>>
  class CoreError extends Error {
    override readonly name = 'CoreError'
    readonly code: string
    readonly details: Record<string, unknown> | undefined
    constructor(code: string, message: string, details?: Record<string, unknown>) {
      super(message)
      this.code = code
      this.details = details
    }
    toJSON(): ErrorJson {
      return codec.errorJson(this)
    }
  }
  const makeError = (json: ErrorJson): Error => {
    if (typeof json?.code === 'string') return new CoreError(json.code, json.message, json.details)
    const error = new Error(json?.message ?? 'unknown error')
    if (typeof json?.name === 'string') error.name = json.name
    return error
  }
  const peer = makePeer(codec, {
    post: (m) => port.postMessage(m),
    makeError,
    freeze: true,
    callSync: makeCallSync((code, message) => new CoreError(code, message)),
  })

  let exported: unknown
  let migrations: Record<string, (storage: unknown) => unknown> = {}
  let hooks: Hooks = {}
  let controller = new AbortController()
  const timers = new Map<number, ReturnType<typeof setTimeout>>()
  let nextTimer = 1

  const log = (level: string, bindings: Record<string, unknown>, args: unknown[]): void => {
    try {
      port.postMessage({ t: 'log', level, b: bindings, a: args })
    } catch {
      port.postMessage({ t: 'log', level, b: bindings, a: args.map((a) => String(a)) })
    }
  }
  type Log = (...args: unknown[]) => void
  const makeLogger = (bindings: Record<string, unknown>): Record<string, unknown> =>
    Object.freeze({
      debug: ((...a) => log('debug', bindings, a)) as Log,
      info: ((...a) => log('info', bindings, a)) as Log,
      warn: ((...a) => log('warn', bindings, a)) as Log,
      error: ((...a) => log('error', bindings, a)) as Log,
      child: (more: Record<string, unknown>) => makeLogger({ ...bindings, ...more }),
    })
  const logger = makeLogger({})
  const runTimer = (handler: () => void, what: string): void => {
    try {
      handler()
    } catch (error) {
      log('error', {}, [{ err: codec.errorJson(error) }, `${what} handler threw`])
    }
  }
  const clearTimer = (handle: { id: number } | undefined): void => {
    if (handle === undefined) return
    const t = timers.get(handle.id)
    if (t === undefined) return
    timers.delete(handle.id)
    clearTimeout(t)
  }
  const scopedTimers = Object.freeze({
    setTimeout: (handler: () => void, delayMs: number) => {
      const id = nextTimer++
      timers.set(
        id,
        setTimeout(() => {
          timers.delete(id)
          runTimer(handler, 'setTimeout')
        }, delayMs),
      )
      return Object.freeze({ id })
    },
    setInterval: (handler: () => void, intervalMs: number) => {
      const id = nextTimer++
      timers.set(
        id,
        setInterval(() => runTimer(handler, 'setInterval'), intervalMs),
      )
      return Object.freeze({ id })
    },
    clearTimeout: clearTimer,
    clearInterval: clearTimer,
  })

  const control = {
    setup: async (given: Record<string, unknown>) => {
      const ctx = Object.freeze({
        name: given.name,
        version: given.version,
        manifest: given.manifest,
        config: given.config,
        logger,
        get signal() {
          return controller.signal
        },
        events: given.events,
        services: given.services,
        state: given.state,
        storage: given.storage,
        timers: scopedTimers,
        ...scopedTimers,
      })
      if (typeof exported === 'function') {
        const fn = exported as (c: unknown) => unknown
        const isClass = /^class[\s{]/.test(Function.prototype.toString.call(fn))
        const made = isClass ? new (fn as unknown as new (c: unknown) => Hooks)(ctx) : await fn(ctx)
        hooks = typeof made === 'object' && made !== null ? (made as Hooks) : {}
      } else hooks = exported as Hooks
      await hooks.setup?.(ctx)
    },
    start: async () => {
      await hooks.start?.()
    },
    stop: async () => {
      await hooks.stop?.()
    },
    unload: async () => {
      try {
        await hooks.unload?.()
      } finally {
        for (const t of timers.values()) clearTimeout(t)
        timers.clear()
      }
    },
    migrate: async (key: string, storage: unknown) => {
      await migrations[key]?.(storage)
    },
  }

  port.on('message', (m: { t?: string; e?: ErrorJson }) => {
    switch (m?.t) {
      case 'ping':
        port.postMessage({ t: 'pong' })
        return
      case 'signal-abort':
        if (!controller.signal.aborted) controller.abort(makeError(m.e as ErrorJson))
        return
      case 'signal-renew':
        if (controller.signal.aborted) controller = new AbortController()
        return
      default:
        peer.handle(m)
    }
  })

  const isMigrations = (v: unknown): v is Record<string, (s: unknown) => unknown> =>
    typeof v === 'object' &&
    v !== null &&
    Object.values(v).every((step) => typeof step === 'function')
  importModule(entryUrl).then(
    (mod: Record<string, unknown>) => {
      exported = mod.default ?? mod.plugin
      const own = (exported as { migrations?: unknown } | undefined)?.migrations
      migrations = isMigrations(own) ? own : isMigrations(mod.migrations) ? mod.migrations : {}
      const usable =
        typeof exported === 'function' ||
        (typeof exported === 'object' &&
          exported !== null &&
          ['setup', 'start', 'stop', 'unload'].some(
            (k) => typeof (exported as Record<string, unknown>)[k] === 'function',
          ))
      if (!usable) {
        const names = Object.keys(mod)
        port.postMessage({
          t: 'load-error',
          e: {
            name: 'CoreError',
            code: 'E_PLUGIN_MANIFEST',
            message: `Entry ${entryUrl} exports nothing usable as a plugin (exports: ${names.length === 0 ? 'none' : names.join(', ')}); export default a definePlugin({...}) object, a class or a setup function`,
          },
        })
        return
      }
      port.postMessage({
        t: 'ready',
        api: peer.exportValue(control),
        migrations: Object.keys(migrations),
      })
    },
    (error: unknown) => port.postMessage({ t: 'load-error', e: codec.errorJson(error) }),
  )
}
