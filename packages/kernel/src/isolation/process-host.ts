import { type ChildProcess, spawn } from 'node:child_process'
import { mkdir } from 'node:fs/promises'
import type { Socket } from 'node:net'
import { createInterface } from 'node:readline'
import { pathToFileURL } from 'node:url'
import * as v8 from 'node:v8'
import { CoreError, type CoreErrorCode, type Logger } from '@core/contracts'
import { createCodec, type Encoded, type ErrorJson } from './codec.js'
import { createPeer } from './peer.js'
import { pluginRuntime } from './plugin-runtime.js'
import { processEnv, readableFolders } from './process-access.js'
import { type ProcessBoot, processMain } from './process-main.js'
import { answerSync } from './sync-answer.js'
import { fromJson, logRecord, type WorkerSession } from './worker-host.js'

/** The file descriptor of the synchronous-call socket in the child (after stdio 0–2 and IPC 3). */
const SYNC_FD = 4

const processSource = (boot: ProcessBoot): string => `'use strict'
const __name = (fn) => fn
const createCodec = ${String(createCodec)}
const createPeer = ${String(createPeer)}
const pluginRuntime = ${String(pluginRuntime)}
;(${String(processMain)})(createCodec(), createPeer, pluginRuntime, process, require('node:fs'), require('node:v8'), ${JSON.stringify(boot)}, (url) => import(url))
`

/** Options of {@link startProcessSession}. @internal */
export interface ProcessSessionOptions {
  /** The plugin's name, for messages. */
  name: string
  /** Absolute path of the entry module. */
  entryPath: string
  /** The plugin's package folder (readable, with the packages it depends on). */
  pluginDir: string
  /** Its data folder: created, the only place it may write. */
  dataDir: string
  /** `--permission` or `--experimental-permission`. */
  permissionFlag: string
  /** Heap cap (`--max-old-space-size`), MB. */
  maxOldGenerationSizeMb: number
  /** Heartbeat period, ms. */
  heartbeatMs: number
  /** No heartbeat answer for this long → the process is killed, ms. */
  watchdogMs: number
  /** The same while the entry is imported, ms. */
  startupMs: number
  /** How long a synchronous ctx call may wait (when it can time out at all), ms. */
  syncTimeoutMs: number
  /** The kernel's logger (records of the plugin's logger go to its `ctx.logger`). */
  logger: Logger
  /** The process ended on its own (crash, OOM, `process.exit()`, watchdog). */
  onExit(error: CoreError): void
}

/** A running plugin process: a worker session's interface, plus its pid. @internal */
export type ProcessSession = Omit<WorkerSession, 'threadId'> & { readonly pid: number }

const lifecycle = (name: string, message: string, code: CoreErrorCode = 'E_PLUGIN_LIFECYCLE') =>
  new CoreError(code, message, { details: { plugin: name, isolation: 'process' } })

/** The `node` arguments of a plugin process: permission model, file access, no addons, heap cap. */
async function nodeArgs(options: ProcessSessionOptions): Promise<string[]> {
  const flags = process.allowedNodeEnvironmentFlags
  const reads = await readableFolders(options.pluginDir)
  return [
    options.permissionFlag,
    ...(flags.has('--disable-warning') ? ['--disable-warning=ExperimentalWarning'] : []),
    ...[...reads, options.dataDir].map((dir) => `--allow-fs-read=${dir}`),
    `--allow-fs-write=${options.dataDir}`,
    '--no-addons',
    `--max-old-space-size=${options.maxOldGenerationSizeMb}`,
  ]
}

/**
 * Starts a plugin's child process under Node's permission model, imports its entry there and
 * resolves once it is ready; watches it with a heartbeat from then on. The `ctx` crosses the
 * IPC channel (advanced serialization) with the same RPC as workers; synchronous ctx calls
 * cross a socketpair the child reads blocking.
 * @throws {@link @core/contracts!CoreError} `E_PLUGIN_MANIFEST` when the entry exports no plugin; the import's
 *   error when it throws; `E_PLUGIN_LIFECYCLE` when the process dies or blocks while loading.
 * @internal
 */
export async function startProcessSession(options: ProcessSessionOptions): Promise<ProcessSession> {
  await mkdir(options.dataDir, { recursive: true })
  const boot: ProcessBoot = {
    entryUrl: pathToFileURL(options.entryPath).href,
    syncFd: SYNC_FD,
    syncTimeoutMs: options.syncTimeoutMs,
  }
  const child = spawn(process.execPath, [...(await nodeArgs(options)), '-e', processSource(boot)], {
    cwd: options.dataDir,
    env: processEnv(options.dataDir),
    stdio: ['ignore', 'pipe', 'pipe', 'ipc', 'pipe'],
    serialization: 'advanced',
  })
  return watch(child, options)
}

function watch(child: ChildProcess, options: ProcessSessionOptions): Promise<ProcessSession> {
  const { name } = options
  const syncFunctions = new WeakSet<object>()
  const send = (m: unknown): void => {
    if (!child.connected)
      throw lifecycle(name, `Plugin "${name}"'s process is gone`, 'E_UNAVAILABLE')
    child.send(m as never)
  }
  const codec = createCodec()
  const peer = createPeer(codec, {
    post: send,
    makeError: fromJson,
    isSync: (fn) => syncFunctions.has(fn),
  })
  answerSyncCalls(child.stdio[SYNC_FD] as Socket, (request) => answerSync(peer, codec, request))

  let logger = options.logger.child({ plugin: name })
  const stderrTail: string[] = []
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) =>
    logger.info({ stream: 'stdout' }, line),
  )
  createInterface({ input: child.stderr as NodeJS.ReadableStream }).on('line', (line) => {
    stderrTail.push(line)
    if (stderrTail.length > 20) stderrTail.shift()
    logger.warn({ stream: 'stderr' }, line)
  })
  let ending: CoreError | undefined
  let fatal: ErrorJson | undefined
  let expected = false
  let lastPong = Date.now()
  let lastTick = Date.now()
  let ready = false
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const kill = (): void => {
    child.kill('SIGKILL')
  }
  const heartbeat = setInterval(() => {
    const now = Date.now()
    if (now - lastTick > options.watchdogMs / 2) lastPong = now // the hub itself stalled
    lastTick = now
    const silent = now - lastPong
    const limit = ready ? options.watchdogMs : options.startupMs
    if (silent > limit) {
      ending = lifecycle(
        name,
        `Plugin "${name}": event loop blocked (no heartbeat answer for ${silent} ms, watchdog ${limit} ms${ready ? '' : ' while loading'}); its process was killed`,
      )
      kill()
      return
    }
    try {
      send({ t: 'ping' })
    } catch {
      // exiting
    }
  }, options.heartbeatMs)
  heartbeat.unref()
  child.on('error', () => {
    // spawn or IPC failures end in 'exit' (or never started: see below)
  })

  return new Promise<ProcessSession>((resolve, reject) => {
    const session = (api: ProcessSession['api'], migrations: string[]): ProcessSession => ({
      api,
      migrations,
      peer,
      syncFunctions,
      pid: child.pid ?? -1,
      logTo: (to) => {
        logger = to
      },
      post: (m) => {
        try {
          send(m)
        } catch {
          // exiting
        }
      },
      terminate: async () => {
        expected = true
        clearInterval(heartbeat)
        if (child.exitCode === null && child.signalCode === null) kill()
        await exited
      },
    })
    child.on('message', (m: { t?: string; [k: string]: unknown }) => {
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
          const api = peer.importValue(m.api as Encoded) as ProcessSession['api']
          resolve(session(api, Array.isArray(m.migrations) ? (m.migrations as string[]) : []))
          return
        }
        case 'load-error': {
          if (ready) return
          expected = true
          clearInterval(heartbeat)
          kill()
          reject(fromJson(m.e as ErrorJson))
          return
        }
        default:
          peer.handle(m)
      }
    })
    child.on('exit', (code, signal) => {
      clearInterval(heartbeat)
      if (expected) {
        peer.close(lifecycle(name, `Plugin "${name}"'s process was stopped`, 'E_UNAVAILABLE'))
        return
      }
      const tail = stderrTail.join('\n')
      const error =
        ending ??
        (/heap limit|heap out of memory/i.test(tail)
          ? lifecycle(
              name,
              `Plugin "${name}" ran out of memory (heap limit ${options.maxOldGenerationSizeMb} MB); its process ended`,
            )
          : fatal !== undefined
            ? lifecycle(name, `Plugin "${name}" crashed in its process: ${fatal.message}`)
            : lifecycle(
                name,
                `Plugin "${name}"'s process exited with ${signal === null ? `code ${code}` : `signal ${signal}`} (process.exit() in the plugin?)`,
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

/** Answers length-prefixed `v8.serialize` frames from the child's synchronous calls. */
function answerSyncCalls(socket: Socket, answer: (request: unknown) => unknown): void {
  let pending: Buffer = Buffer.alloc(0)
  const write = (value: unknown): void => {
    const body = v8.serialize(value)
    const head = Buffer.alloc(4)
    head.writeUInt32BE(body.length, 0)
    socket.write(Buffer.concat([head, body]))
  }
  socket.on('error', () => {
    // the child is gone; its exit is reported by the process
  })
  socket.on('data', (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk])
    while (pending.length >= 4) {
      const len = pending.readUInt32BE(0)
      if (pending.length < 4 + len) return
      const frame = pending.subarray(4, 4 + len)
      pending = pending.subarray(4 + len)
      let request: unknown
      try {
        request = v8.deserialize(frame)
      } catch {
        request = undefined
      }
      const reply = answer(request) as { id: number }
      try {
        write(reply)
      } catch (error) {
        write({
          id: reply.id,
          ok: false,
          e: { name: 'CoreError', code: 'E_VALIDATION', message: (error as Error).message },
        })
      }
    }
  })
}
