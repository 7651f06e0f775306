import { type ChildProcess, spawn } from 'node:child_process'
import { mkdir } from 'node:fs/promises'
import type { Socket } from 'node:net'
import { createInterface } from 'node:readline'
import { pathToFileURL } from 'node:url'
import * as v8 from 'node:v8'
import type { CoreError, CoreErrorCode, Logger } from '@core/contracts'
import { createCodec } from './codec.js'
import { createPeer } from './peer.js'
import { pluginRuntime } from './plugin-runtime.js'
import { processEnv, readableFolders } from './process-access.js'
import { type ProcessBoot, processMain } from './process-main.js'
import { fromJson, type IsolatedSession, lifecycleError, superviseSession } from './session.js'
import { answerSync } from './sync-answer.js'

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

/** A running plugin process: an isolated session, plus its pid. @internal */
export interface ProcessSession extends IsolatedSession {
  readonly pid: number
}

const lifecycle = (name: string, message: string, code?: CoreErrorCode) =>
  lifecycleError('process', name, message, code)

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

  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  // name, heartbeat, watchdog, startup, logger and onExit come from the session's options
  const supervision = superviseSession({
    ...options,
    kind: 'process',
    peer,
    syncFunctions,
    send,
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    },
    ended: exited,
  })
  // Its stdout and stderr lines go to the kernel's logger; the last lines of stderr tell an
  // out-of-memory end from a crash.
  const stderrTail: string[] = []
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) =>
    supervision.logger().info({ stream: 'stdout' }, line),
  )
  createInterface({ input: child.stderr as NodeJS.ReadableStream }).on('line', (line) => {
    stderrTail.push(line)
    if (stderrTail.length > 20) stderrTail.shift()
    supervision.logger().warn({ stream: 'stderr' }, line)
  })
  child.on('error', () => {
    // spawn or IPC failures end in 'exit'
  })
  child.on('message', supervision.message)
  child.on('exit', (code, signal) => {
    supervision.exited((fatal) =>
      /heap limit|heap out of memory/i.test(stderrTail.join('\n'))
        ? lifecycle(
            name,
            `Plugin "${name}" ran out of memory (heap limit ${options.maxOldGenerationSizeMb} MB); its process ended`,
          )
        : fatal !== undefined
          ? lifecycle(name, `Plugin "${name}" crashed in its process: ${fatal.message}`)
          : lifecycle(
              name,
              `Plugin "${name}"'s process exited with ${signal === null ? `code ${code}` : `signal ${signal}`} (process.exit() in the plugin?)`,
            ),
    )
  })
  return supervision.ready.then((session) => ({ ...session, pid: child.pid ?? -1 }))
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
