import { CoreError, type CoreErrorCode, type Logger } from '@core/contracts'
import type { Encoded, ErrorJson } from './codec.js'
import type { Peer } from './peer.js'

/** Where an isolated plugin runs. @internal */
export type IsolationKind = 'worker' | 'process'

/** A running isolated plugin, worker or process (the host adds `threadId` or `pid`). @internal */
export interface IsolatedSession {
  /** The plugin's control functions (`setup`, `start`, `stop`, `unload`, `migrate`). */
  readonly api: Record<
    'setup' | 'start' | 'stop' | 'unload' | 'migrate',
    (...a: unknown[]) => Promise<unknown>
  >
  /** Migration keys the entry exports. */
  readonly migrations: string[]
  readonly peer: Peer
  /** Host functions the plugin must call synchronously. */
  readonly syncFunctions: WeakSet<object>
  /** Where the plugin's log records go (its kernel-side `ctx.logger`, once set up). */
  logTo(logger: Logger): void
  /** Posts a control message (`signal-abort`, `signal-renew`); dropped once it is gone. */
  post(message: unknown): void
  /** Ends it (expected: no `onExit`). */
  terminate(): Promise<void>
}

/** What {@link superviseSession} needs from the host of one worker or process. @internal */
export interface SuperviseOptions {
  name: string
  kind: IsolationKind
  /** Heartbeat period, ms. */
  heartbeatMs: number
  /** No heartbeat answer for this long → ended, ms. */
  watchdogMs: number
  /** The same while the entry is imported, ms. */
  startupMs: number
  /** The kernel's logger (records of the plugin's logger go to its `ctx.logger`). */
  logger: Logger
  peer: Peer
  syncFunctions: WeakSet<object>
  /** Posts to the plugin; throws once it is gone. */
  send(message: unknown): void
  /** Ends the plugin at once (terminate or SIGKILL); its end comes back through `exited`. */
  kill(): void
  /** Settles once the plugin has ended. */
  ended: Promise<void>
  /** The plugin ended on its own (crash, OOM, `process.exit()`, watchdog). */
  onExit(error: CoreError): void
}

/** The host's side of a supervised session: feed it messages and the end. @internal */
export interface Supervision {
  /** Handles a message from the plugin: heartbeat, log, fatal, ready, load error, or RPC. */
  message(m: { t?: string; [k: string]: unknown } | undefined): void
  /**
   * The plugin ended. Unless it was expected or the watchdog ended it, `crash` names why from
   * the host's evidence (its last error, stderr), given the `fatal` report the plugin sent.
   */
  exited(crash: (fatal: ErrorJson | undefined) => CoreError): void
  /** The session once the entry is imported; rejects when loading fails or it ends first. */
  ready: Promise<IsolatedSession>
  /** Where the plugin's records go now: the kernel's logger, then its `ctx.logger` once set up. */
  logger(): Logger
}

/** A lifecycle error of an isolated plugin (`details: { plugin, isolation }`). @internal */
export const lifecycleError = (
  kind: IsolationKind,
  name: string,
  message: string,
  code: CoreErrorCode = 'E_PLUGIN_LIFECYCLE',
): CoreError => new CoreError(code, message, { details: { plugin: name, isolation: kind } })

/**
 * Supervises one isolated plugin for its host (worker or process): a heartbeat with a watchdog
 * (a longer one while the entry loads; a stall of the hub's own thread is not held against
 * it), the load handshake (`ready` / `load-error`), its log records, and its end: expected
 * (terminate), by the watchdog, or a crash the host describes.
 * @internal
 */
export function superviseSession(o: SuperviseOptions): Supervision {
  const { name, kind, peer } = o
  let logger = o.logger.child({ plugin: name })
  let ending: CoreError | undefined
  let fatal: ErrorJson | undefined
  let expected = false
  let lastPong = Date.now()
  let lastTick = Date.now()
  let ready = false
  let resolveReady!: (session: IsolatedSession) => void
  let rejectReady!: (error: unknown) => void
  const readyPromise = new Promise<IsolatedSession>((resolve, reject) => {
    resolveReady = resolve
    rejectReady = reject
  })
  const heartbeat = setInterval(() => {
    const now = Date.now()
    // The hub's own thread stalled (nothing could be answered meanwhile): give the plugin time.
    if (now - lastTick > o.watchdogMs / 2) lastPong = now
    lastTick = now
    const silent = now - lastPong
    const limit = ready ? o.watchdogMs : o.startupMs
    if (silent > limit) {
      ending = lifecycleError(
        kind,
        name,
        `Plugin "${name}": event loop blocked (no heartbeat answer for ${silent} ms, watchdog ${limit} ms${ready ? '' : ' while loading'}); its ${kind === 'worker' ? 'worker was terminated' : 'process was killed'}`,
      )
      o.kill()
      return
    }
    post({ t: 'ping' })
  }, o.heartbeatMs)
  heartbeat.unref()

  function post(m: unknown): void {
    try {
      o.send(m)
    } catch {
      // exiting
    }
  }
  const session = (api: IsolatedSession['api'], migrations: string[]): IsolatedSession => ({
    api,
    migrations,
    peer,
    syncFunctions: o.syncFunctions,
    logTo: (to) => {
      logger = to
    },
    post,
    terminate: async () => {
      expected = true
      clearInterval(heartbeat)
      o.kill()
      await o.ended
    },
  })

  return {
    ready: readyPromise,
    logger: () => logger,
    message(m) {
      switch (m?.t) {
        case 'pong':
          lastPong = Date.now()
          return
        case 'log':
          logRecord(logger, name, m)
          return
        case 'fatal':
          fatal = m.e as ErrorJson
          return
        case 'ready': {
          if (ready) return
          ready = true
          lastPong = Date.now()
          const api = peer.importValue(m.api as Encoded) as IsolatedSession['api']
          resolveReady(session(api, Array.isArray(m.migrations) ? (m.migrations as string[]) : []))
          return
        }
        case 'load-error': {
          if (ready) return
          expected = true
          clearInterval(heartbeat)
          o.kill()
          rejectReady(fromJson(m.e as ErrorJson))
          return
        }
        default:
          peer.handle(m)
      }
    },
    exited(crash) {
      clearInterval(heartbeat)
      if (expected) {
        peer.close(
          lifecycleError(kind, name, `Plugin "${name}"'s ${kind} was stopped`, 'E_UNAVAILABLE'),
        )
        return
      }
      const error = ending ?? crash(fatal)
      peer.close(error)
      if (!ready) {
        ready = true
        rejectReady(error)
        return
      }
      o.onExit(error)
    },
  }
}

/** Rebuilds an error that crossed the boundary (a CoreError when it has a code). @internal */
export const fromJson = (json: ErrorJson): Error => {
  if (typeof json?.code === 'string') return CoreError.fromJSON(json)
  const error = new Error(json?.message ?? 'unknown error')
  if (typeof json?.name === 'string') error.name = json.name
  return error
}

/**
 * Writes a `log` message from an isolated plugin to its logger (its bindings cannot pose as
 * another plugin).
 * @internal
 */
export function logRecord(logger: Logger, name: string, m: Record<string, unknown>): void {
  const level = m.level as 'debug' | 'info' | 'warn' | 'error'
  if (!['debug', 'info', 'warn', 'error'].includes(level) || !Array.isArray(m.a)) return
  const bindings = m.b as Record<string, unknown>
  const target =
    typeof bindings === 'object' && bindings !== null && Object.keys(bindings).length > 0
      ? logger.child({ ...bindings, plugin: name })
      : logger
  ;(target[level] as (...a: unknown[]) => void)(...(m.a as unknown[]))
}
