import { pathToFileURL } from 'node:url'
import { MessageChannel, type ResourceLimits, Worker } from 'node:worker_threads'
import { CoreError, type CoreErrorCode, type Logger } from '@core/contracts'
import { createCodec, type Encoded, type ErrorJson } from './codec.js'
import { createPeer, type Peer } from './peer.js'
import { pluginRuntime } from './plugin-runtime.js'
import { answerSync } from './sync-answer.js'
import { type WorkerBoot, workerMain } from './worker-main.js'

/**
 * The source the plugin workers run: the codec, the peer and the runtime, from their own
 * source text (`__name` is a no-op for the name-keeping helper some transpilers emit).
 */
const WORKER_SOURCE = `'use strict'
const __name = (fn) => fn
const createCodec = ${String(createCodec)}
const createPeer = ${String(createPeer)}
const pluginRuntime = ${String(pluginRuntime)}
;(${String(workerMain)})(createCodec(), createPeer, pluginRuntime, require('node:worker_threads'), (url) => import(url))
`

/** Environment variable names a plugin worker does not get (the hub's secrets). */
const SECRET_ENV =
  /TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|PRIVATE|_KEY$|^CORE_|DATABASE|_URL$|_DSN$/i

/** The hub's environment without its secrets, for a plugin worker. @internal */
export function pluginEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(env)) if (v !== undefined && !SECRET_ENV.test(k)) out[k] = v
  return out
}

/** Options of {@link startWorkerSession}. @internal */
export interface WorkerSessionOptions {
  /** The plugin's name, for messages. */
  name: string
  /** Absolute path of the entry module. */
  entryPath: string
  resourceLimits: ResourceLimits
  /** Heartbeat period, ms. */
  heartbeatMs: number
  /** No heartbeat answer for this long → the worker is terminated, ms. */
  watchdogMs: number
  /** The same while the entry is imported (compiling a big plugin is slow), ms. */
  startupMs: number
  /** How long a synchronous ctx call may block the worker, ms. */
  syncTimeoutMs: number
  /** The kernel's logger (records of the plugin's logger go to its `ctx.logger`). */
  logger: Logger
  /** The worker ended on its own (crash, OOM, `process.exit()`, watchdog). */
  onExit(error: CoreError): void
}

/** A running plugin worker, see {@link startWorkerSession}. @internal */
export interface WorkerSession {
  /** The worker's control functions (`setup`, `start`, `stop`, `unload`, `migrate`). */
  readonly api: Record<
    'setup' | 'start' | 'stop' | 'unload' | 'migrate',
    (...a: unknown[]) => Promise<unknown>
  >
  /** Migration keys the entry exports. */
  readonly migrations: string[]
  readonly peer: Peer
  /** Host functions the worker must call synchronously. */
  readonly syncFunctions: WeakSet<object>
  /** Where the plugin's log records go (its kernel-side `ctx.logger`, once set up). */
  logTo(logger: Logger): void
  /** Posts a control message (`signal-abort`, `signal-renew`). */
  post(message: unknown): void
  /** Terminates the worker (expected: no `onExit`). */
  terminate(): Promise<void>
  /** The thread id, for tests. */
  readonly threadId: number
}

/** Rebuilds an error that crossed the boundary (a CoreError when it has a code). @internal */
export const fromJson = (json: ErrorJson): Error => {
  if (typeof json?.code === 'string') return CoreError.fromJSON(json)
  const error = new Error(json?.message ?? 'unknown error')
  if (typeof json?.name === 'string') error.name = json.name
  return error
}

const lifecycle = (name: string, message: string, code: CoreErrorCode = 'E_PLUGIN_LIFECYCLE') =>
  new CoreError(code, message, { details: { plugin: name, isolation: 'worker' } })

/**
 * Starts a plugin's worker, imports its entry there and resolves once it is ready; watches it
 * with a heartbeat from then on.
 * @throws {@link @core/contracts!CoreError} `E_PLUGIN_MANIFEST` when the entry exports no plugin; the import's
 *   error (as `E_PLUGIN_LIFECYCLE`) when it throws; `E_PLUGIN_LIFECYCLE` when the worker dies
 *   or blocks while loading.
 * @internal
 */
export function startWorkerSession(options: WorkerSessionOptions): Promise<WorkerSession> {
  const { name } = options
  const flag = new Int32Array(new SharedArrayBuffer(4))
  const channel = new MessageChannel()
  const boot: WorkerBoot = {
    entryUrl: pathToFileURL(options.entryPath).href,
    syncPort: channel.port2,
    flag,
    syncTimeoutMs: options.syncTimeoutMs,
  }
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    name: `plugin:${name}`,
    workerData: boot,
    transferList: [channel.port2],
    resourceLimits: options.resourceLimits,
    env: pluginEnv(),
  })
  const syncFunctions = new WeakSet<object>()
  const codec = createCodec()
  const peer = createPeer(codec, {
    post: (m) => worker.postMessage(m),
    makeError: fromJson,
    isSync: (fn) => syncFunctions.has(fn),
  })
  channel.port1.on('message', (request: unknown) => {
    const reply = answerSync(peer, codec, request)
    try {
      channel.port1.postMessage(reply)
    } catch (error) {
      channel.port1.postMessage({
        id: reply.id,
        ok: false,
        e: { name: 'CoreError', code: 'E_VALIDATION', message: (error as Error).message },
      })
    }
    Atomics.store(flag, 0, 1)
    Atomics.notify(flag, 0)
  })

  let logger = options.logger.child({ plugin: name })
  let ending: CoreError | undefined
  let lastError: (Error & { code?: string }) | undefined
  let expected = false
  let lastPong = Date.now()
  let lastTick = Date.now()
  let ready = false
  const heartbeat = setInterval(() => {
    const now = Date.now()
    // The hub's own thread stalled (nothing could be answered meanwhile): give the worker time.
    if (now - lastTick > options.watchdogMs / 2) lastPong = now
    lastTick = now
    const silent = now - lastPong
    const limit = ready ? options.watchdogMs : options.startupMs
    if (silent > limit) {
      ending = lifecycle(
        name,
        `Plugin "${name}": event loop blocked (no heartbeat answer for ${silent} ms, watchdog ${limit} ms${ready ? '' : ' while loading'}); its worker was terminated`,
      )
      void worker.terminate()
      return
    }
    try {
      worker.postMessage({ t: 'ping' })
    } catch {
      // exiting
    }
  }, options.heartbeatMs)
  heartbeat.unref()

  return new Promise<WorkerSession>((resolve, reject) => {
    const session = (api: WorkerSession['api'], migrations: string[]): WorkerSession => ({
      api,
      migrations,
      peer,
      syncFunctions,
      threadId: worker.threadId,
      logTo: (to) => {
        logger = to
      },
      post: (m) => {
        try {
          worker.postMessage(m)
        } catch {
          // exiting
        }
      },
      terminate: async () => {
        expected = true
        clearInterval(heartbeat)
        await worker.terminate()
      },
    })
    worker.on('message', (m: { t?: string; [k: string]: unknown }) => {
      switch (m?.t) {
        case 'pong':
          lastPong = Date.now()
          return
        case 'log':
          logRecord(logger, name, m)
          return
        case 'ready': {
          if (ready) return
          ready = true
          lastPong = Date.now()
          const api = peer.importValue(m.api as Encoded) as WorkerSession['api']
          resolve(session(api, Array.isArray(m.migrations) ? (m.migrations as string[]) : []))
          return
        }
        case 'load-error': {
          if (ready) return
          expected = true
          clearInterval(heartbeat)
          void worker.terminate()
          reject(fromJson(m.e as ErrorJson))
          return
        }
        default:
          peer.handle(m)
      }
    })
    worker.on('error', (error: Error & { code?: string }) => {
      lastError = error
    })
    worker.on('exit', (code) => {
      clearInterval(heartbeat)
      channel.port1.close()
      if (expected) {
        peer.close(lifecycle(name, `Plugin "${name}"'s worker was stopped`, 'E_UNAVAILABLE'))
        return
      }
      const error =
        ending ??
        (lastError?.code === 'ERR_WORKER_OUT_OF_MEMORY'
          ? lifecycle(
              name,
              `Plugin "${name}" ran out of memory (worker heap limit ${options.resourceLimits.maxOldGenerationSizeMb} MB); its worker was terminated`,
            )
          : lastError !== undefined
            ? lifecycle(name, `Plugin "${name}" crashed in its worker: ${lastError.message}`)
            : lifecycle(
                name,
                `Plugin "${name}"'s worker exited with code ${code} (process.exit() in the plugin?)`,
              ))
      peer.close(error)
      if (!ready) {
        ready = true
        reject(error)
        return
      }
      options.onExit(error)
    })
  })
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
