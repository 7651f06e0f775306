import { pathToFileURL } from 'node:url'
import { MessageChannel, type ResourceLimits, Worker } from 'node:worker_threads'
import type { CoreError, Logger } from '@core/contracts'
import { createCodec } from './codec.js'
import { createPeer } from './peer.js'
import { pluginRuntime } from './plugin-runtime.js'
import { fromJson, type IsolatedSession, lifecycleError, superviseSession } from './session.js'
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
export interface WorkerSession extends IsolatedSession {
  /** The thread id, for tests. */
  readonly threadId: number
}

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

  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()))
  // name, heartbeat, watchdog, startup, logger and onExit come from the session's options
  const supervision = superviseSession({
    ...options,
    kind: 'worker',
    peer,
    syncFunctions,
    send: (m) => worker.postMessage(m),
    kill: () => void worker.terminate(),
    ended: exited,
  })
  let lastError: (Error & { code?: string }) | undefined
  worker.on('message', supervision.message)
  worker.on('error', (error: Error & { code?: string }) => {
    lastError = error
  })
  worker.on('exit', (code) => {
    channel.port1.close()
    supervision.exited(() =>
      lastError?.code === 'ERR_WORKER_OUT_OF_MEMORY'
        ? lifecycleError(
            'worker',
            name,
            `Plugin "${name}" ran out of memory (worker heap limit ${options.resourceLimits.maxOldGenerationSizeMb} MB); its worker was terminated`,
          )
        : lastError !== undefined
          ? lifecycleError(
              'worker',
              name,
              `Plugin "${name}" crashed in its worker: ${lastError.message}`,
            )
          : lifecycleError(
              'worker',
              name,
              `Plugin "${name}"'s worker exited with code ${code} (process.exit() in the plugin?)`,
            ),
    )
  })
  return supervision.ready.then((session) => ({ ...session, threadId: worker.threadId }))
}
