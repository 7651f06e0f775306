import { sep } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { pathToFileURL } from 'node:url'
import { Worker } from 'node:worker_threads'
import { CoreError, type Logger } from '@core/contracts'
import type { ComponentHealth } from './types.js'

/** What {@link createFaultContainment} needs from the kernel. @internal */
export interface FaultContainmentDeps {
  logger: Logger
  /** The folders of the plugins loaded from disk, by name (inline plugins have none). */
  folders(): Iterable<[name: string, dir: string]>
  /** Fails a running plugin (releases its context, state `failed`, health says why). */
  failPlugin(name: string, error: CoreError): void
  /** A stall of the event loop at least this long makes health `unhealthy`, in ms. */
  stallThresholdMs: number
}

/** The kernel's process-level guard, installed by `containFaults: true`. @internal */
export interface FaultContainment {
  /** Installs the process handlers, the `process.exit` guard, the stall monitor and watchdog. */
  install(): void
  /** Removes all of it and ends the watchdog thread. */
  uninstall(): void
  /** A lifecycle step begins: the watchdog ends the process if the main thread stalls through it. */
  stepStarted(plugin: string, step: string, timeoutMs: number): void
  /** The current lifecycle step ended. */
  stepEnded(): void
  /** Boot is over: from now on a stall counts against health (module loading at boot does not). */
  watchStalls(): void
  /** The `faults` health component: stalls and unattributed faults. */
  health(): ComponentHealth
}

/** Default of `stallThresholdMs`: an event-loop delay this long makes health `unhealthy`, in ms. @public */
export const DEFAULT_STALL_THRESHOLD_MS = 5_000

/** How long a recorded stall keeps health `unhealthy`, in ms. */
const STALL_WINDOW_MS = 10_000
/** How often the main thread proves it is alive to the watchdog, in ms. */
const HEARTBEAT_MS = 100

/**
 * Builds the kernel's fault containment for inline plugins (see `containFaults` in
 * `CreateKernelOptions` for what it does and does not protect).
 * @internal
 */
export function createFaultContainment(deps: FaultContainmentDeps): FaultContainment {
  const log = deps.logger
  let installed = false
  let unattributed = 0
  let lastFault: string | undefined
  let lastStall: { ms: number; at: number } | undefined
  let watchingStalls = false
  const histogram = monitorEventLoopDelay({ resolution: 20 })
  let sampler: NodeJS.Timeout | undefined
  let heartbeat: NodeJS.Timeout | undefined
  let watchdog: Worker | undefined
  // [0]: ms since `base` of the last heartbeat; [1]: 1 while a step is watched.
  const shared = new Int32Array(new SharedArrayBuffer(8))
  const base = Date.now()
  const originalExit = process.exit

  /** The plugin whose folder holds the topmost matching frame of `stack`, if any. */
  const attribute = (stack: string | undefined): string | undefined => {
    if (stack === undefined) return undefined
    const roots: Array<[string, string, string]> = []
    for (const [name, dir] of deps.folders()) {
      roots.push([name, dir + sep, `${pathToFileURL(dir).href}/`])
    }
    if (roots.length === 0) return undefined
    for (const line of stack.split('\n')) {
      if (!line.trimStart().startsWith('at ')) continue
      for (const [name, path, url] of roots) {
        if (line.includes(path) || line.includes(url)) return name
      }
    }
    return undefined
  }

  const fault = (kind: string, error: unknown): void => {
    const stack = error instanceof Error ? error.stack : undefined
    const plugin = attribute(stack)
    const reason = error instanceof Error ? error.message : String(error)
    if (plugin === undefined) {
      unattributed++
      lastFault = `${kind}: ${reason}`
      log.error(
        { err: error, kind },
        `${kind} not attributable to a plugin: logged, the hub keeps running (health "faults" degraded)`,
      )
      return
    }
    const failure = new CoreError(
      'E_PLUGIN_LIFECYCLE',
      `Plugin "${plugin}" failed while running: ${kind}: ${reason}`,
      { cause: error, details: { plugin, fault: kind } },
    )
    log.error({ err: error, plugin, kind }, failure.message)
    deps.failPlugin(plugin, failure)
  }

  const onRejection = (reason: unknown): void => fault('unhandled rejection', reason)
  const onException = (error: unknown): void => fault('uncaught exception', error)

  const guardedExit = ((code?: number | string | null): never => {
    const plugin = attribute(new Error('process.exit').stack)
    if (plugin === undefined) return originalExit.call(process, code as number)
    const error = new CoreError(
      'E_FORBIDDEN',
      `Plugin "${plugin}" called process.exit(${code ?? ''}): refused, a plugin cannot end the hub; the plugin is failed. Report an unrecoverable error by throwing instead`,
      { details: { plugin, code: code ?? null } },
    )
    log.error({ plugin }, error.message)
    deps.failPlugin(plugin, error)
    throw error
  }) as typeof process.exit

  let lastBeat = Date.now()
  /** The heartbeat: tells the watchdog the main thread runs, and measures its own lateness. */
  const beat = (): void => {
    const now = Date.now()
    Atomics.store(shared, 0, now - base)
    const lateMs = now - lastBeat - HEARTBEAT_MS
    lastBeat = now
    if (lateMs >= deps.stallThresholdMs) stalled(lateMs)
  }
  const stalled = (ms: number): void => {
    if (!watchingStalls) return
    if (lastStall !== undefined && Date.now() - lastStall.at < HEARTBEAT_MS) return
    lastStall = { ms: Math.round(ms), at: Date.now() }
    log.warn(
      { stallMs: lastStall.ms, thresholdMs: deps.stallThresholdMs },
      `The event loop stalled for ${lastStall.ms} ms (threshold ${deps.stallThresholdMs} ms): some code ran without yielding`,
    )
  }
  const sample = (): void => {
    const maxMs = histogram.max / 1e6
    histogram.reset()
    if (maxMs >= deps.stallThresholdMs) stalled(maxMs)
  }

  return {
    install() {
      if (installed) return
      installed = true
      process.on('unhandledRejection', onRejection)
      process.on('uncaughtException', onException)
      process.exit = guardedExit
      histogram.enable()
      sampler = setInterval(sample, 1_000)
      sampler.unref()
      lastBeat = Date.now()
      Atomics.store(shared, 0, lastBeat - base)
      heartbeat = setInterval(beat, HEARTBEAT_MS)
      heartbeat.unref()
      watchdog = new Worker(WATCHDOG_SOURCE, { eval: true, workerData: { shared, base } })
      watchdog.unref()
      watchdog.on('error', (error) => log.warn({ err: error }, 'the stall watchdog thread failed'))
    },
    uninstall() {
      if (!installed) return
      installed = false
      watchingStalls = false
      process.off('unhandledRejection', onRejection)
      process.off('uncaughtException', onException)
      if (process.exit === guardedExit) process.exit = originalExit
      histogram.disable()
      clearInterval(sampler)
      clearInterval(heartbeat)
      void watchdog?.terminate()
      watchdog = undefined
    },
    stepStarted(plugin, step, timeoutMs) {
      if (watchdog === undefined) return
      Atomics.store(shared, 0, Date.now() - base)
      Atomics.store(shared, 1, 1)
      watchdog.postMessage({ plugin, step, timeoutMs })
    },
    stepEnded() {
      Atomics.store(shared, 1, 0)
    },
    watchStalls() {
      if (!installed) return
      histogram.reset()
      lastBeat = Date.now()
      watchingStalls = true
    },
    health() {
      const now = Date.now()
      // Called right after a stall, before any timer had a chance to run: measure it here.
      const silentMs = installed ? now - lastBeat - HEARTBEAT_MS : 0
      if (silentMs >= deps.stallThresholdMs) stalled(silentMs)
      const currentMs = watchingStalls ? histogram.max / 1e6 : 0
      const isStalled =
        currentMs >= deps.stallThresholdMs ||
        (lastStall !== undefined && now - lastStall.at < STALL_WINDOW_MS)
      const details: Record<string, unknown> = {
        thresholdMs: deps.stallThresholdMs,
        unattributedFaults: unattributed,
      }
      if (lastStall !== undefined) {
        details.lastStallMs = lastStall.ms
        details.lastStallAt = new Date(lastStall.at).toISOString()
      }
      if (lastFault !== undefined) details.lastUnattributedFault = lastFault
      if (isStalled) {
        const ms = Math.max(Math.round(currentMs), lastStall?.ms ?? 0)
        details.reason = `the event loop stalled for ${ms} ms (threshold ${deps.stallThresholdMs} ms)`
        return { status: 'unhealthy', details }
      }
      return { status: unattributed > 0 ? 'degraded' : 'healthy', details }
    },
  }
}

/**
 * The watchdog thread: the main thread cannot interrupt its own busy loop, so a second thread
 * watches its heartbeat while a lifecycle step runs, and ends the process (SIGKILL: a busy main
 * thread never runs a SIGTERM handler) with a message naming the plugin and the step once the
 * main thread has not beaten for longer than the step's timeout.
 */
const WATCHDOG_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads')
const { writeSync } = require('node:fs')
const shared = workerData.shared
const base = workerData.base
let step
parentPort.on('message', (message) => { step = message })
setInterval(() => {
  if (step === undefined || Atomics.load(shared, 1) !== 1) return
  const silentMs = Date.now() - base - Atomics.load(shared, 0)
  if (silentMs <= step.timeoutMs) return
  writeSync(2, JSON.stringify({ level: 60, time: Date.now(), plugin: step.plugin, step: step.step,
    msg: 'Plugin "' + step.plugin + '" blocked the event loop for ' + silentMs + ' ms during ' +
      step.step + '() (timeout ' + step.timeoutMs + ' ms): the hub cannot interrupt it and ends now; fix the plugin or disable it' }) + '\\n')
  process.kill(process.pid, 'SIGKILL')
}, 100)
`
