import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { CoreError, type Logger, type PluginManifest } from '@core/contracts'
import { permissionFlag } from './process-access.js'
import { startProcessSession } from './process-host.js'
import type { IsolatedSession } from './session.js'
import { startWorkerSession } from './worker-host.js'
import { createWorkerPlugin } from './worker-plugin.js'

/**
 * Hub-wide settings of the `worker` and `process` isolation levels (`createKernel({ isolation })`).
 * @public
 */
export interface IsolationOptions {
  /**
   * Cap of an isolated plugin's old-generation heap, in MB (a worker's
   * `resourceLimits.maxOldGenerationSizeMb`, a process's `--max-old-space-size`); also the
   * limit of a plugin whose manifest sets none. A manifest asking for more gets the cap (with
   * a warning).
   * @defaultValue 256
   */
  maxOldGenerationSizeMb?: number
  /**
   * Folder holding the data folders of `process` plugins: each gets `<dataDir>/<plugin name>`
   * (created), the only place it may write, given to it as `CORE_PLUGIN_DATA_DIR`. Absolute,
   * or relative to the working directory.
   * @defaultValue `<os.tmpdir()>/core-plugin-data`
   */
  dataDir?: string
  /** How often the hub pings each worker or process, ms. @defaultValue 1_000 */
  heartbeatMs?: number
  /**
   * A worker that has not answered a ping for this long has a blocked event loop: it is
   * terminated and its plugin failed, ms.
   * @defaultValue the `start` step's `lifecycleTimeoutMs` (10_000)
   */
  watchdogMs?: number
  /**
   * Restarts of a worker plugin that failed while started (watchdog, out of memory, crash,
   * `process.exit()`): after `initialDelayMs`, doubling up to `maxDelayMs`, at most `attempts`
   * times in a row (the count starts again once it ran for `resetAfterMs`); then it is left
   * `failed` with the reason.
   */
  restart?: {
    attempts?: number
    initialDelayMs?: number
    maxDelayMs?: number
    resetAfterMs?: number
  }
}

/** What the kernel gives {@link createIsolation}. @internal */
export interface IsolationDeps {
  logger: Logger
  options: IsolationOptions | undefined
  /** The default watchdog, ms (the start step's timeout). */
  defaultWatchdogMs: number
  /** The watchdog while the entry is imported, ms (the load step's timeout). */
  loadTimeoutMs: number
  /** Marks a started plugin failed (context released), with the reason shown in its info. */
  failPlugin(name: string, error: CoreError, reason: string): void
  /** Starts a failed plugin again (a fresh load, setup and start). */
  restartPlugin(name: string): Promise<unknown>
  /** Node's option names (to find its permission model). @defaultValue process.allowedNodeEnvironmentFlags */
  nodeFlags?: ReadonlySet<string>
}

/** The kernel's handle on isolated plugins. @internal */
export interface Isolation {
  /** True when the manifest asks for an isolation level other than `inline`. */
  isolated(manifest: PluginManifest): boolean
  /** Starts the plugin's worker and returns what its entry "exports" to the kernel. */
  load(
    name: string,
    manifest: PluginManifest,
    pkg: { entryPath: string; dir: string } | undefined,
  ): Promise<Record<string, unknown>>
  /** Cancels pending restarts and ends every worker. */
  close(): Promise<void>
}

const positive = (value: unknown, name: string): void => {
  if (value === undefined) return
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0)
    throw new CoreError(
      'E_VALIDATION',
      `Invalid kernel option isolation.${name}: use a positive number`,
      {
        details: { option: `isolation.${name}` },
      },
    )
}

/**
 * The isolation supervisor: runs `worker` plugins in `worker_threads` Workers and `process`
 * plugins in child processes under Node's permission model, watches them with a heartbeat,
 * and restarts those that fail while started with exponential backoff.
 * @throws {@link @core/contracts!CoreError} `E_VALIDATION` for a malformed option.
 * @internal
 */
export function createIsolation(deps: IsolationDeps): Isolation {
  const o = deps.options ?? {}
  positive(o.maxOldGenerationSizeMb, 'maxOldGenerationSizeMb')
  positive(o.heartbeatMs, 'heartbeatMs')
  positive(o.watchdogMs, 'watchdogMs')
  for (const k of ['attempts', 'initialDelayMs', 'maxDelayMs', 'resetAfterMs'] as const)
    positive(o.restart?.[k], `restart.${k}`)
  const capMb = o.maxOldGenerationSizeMb ?? 256
  const watchdogMs = o.watchdogMs ?? deps.defaultWatchdogMs
  const heartbeatMs = o.heartbeatMs ?? Math.max(10, Math.min(1_000, Math.floor(watchdogMs / 4)))
  const attempts = o.restart?.attempts ?? 5
  const initialDelayMs = o.restart?.initialDelayMs ?? 1_000
  const maxDelayMs = o.restart?.maxDelayMs ?? 30_000
  const resetAfterMs = o.restart?.resetAfterMs ?? 60_000
  const dataRoot = resolve(o.dataDir ?? join(tmpdir(), 'core-plugin-data'))
  const sessions = new Map<string, Pick<IsolatedSession, 'terminate'>>()
  const restarts = new Map<string, { count: number; since: number; timer?: NodeJS.Timeout }>()
  let closed = false

  const onCrash = (name: string, error: CoreError): void => {
    if (closed) return
    const now = Date.now()
    const r = restarts.get(name) ?? { count: 0, since: now }
    if (now - r.since > resetAfterMs) r.count = 0
    restarts.set(name, r)
    if (r.count >= attempts) {
      deps.failPlugin(name, error, `left failed after ${attempts} restarts: ${error.message}`)
      return
    }
    const delay = Math.min(maxDelayMs, initialDelayMs * 2 ** r.count)
    r.count++
    deps.failPlugin(
      name,
      error,
      `restarting in ${delay} ms (attempt ${r.count} of ${attempts}): ${error.message}`,
    )
    r.timer = setTimeout(() => {
      r.timer = undefined
      r.since = Date.now()
      deps.restartPlugin(name).catch((cause: unknown) => {
        if (closed || CoreError.is(cause, 'E_UNAVAILABLE')) return
        onCrash(
          name,
          CoreError.is(cause) ? cause : new CoreError('E_PLUGIN_LIFECYCLE', String(cause)),
        )
      })
    }, delay)
    r.timer.unref()
  }

  return {
    isolated: (manifest) => manifest.isolation !== undefined && manifest.isolation !== 'inline',
    load: async (name, manifest, pkg) => {
      if (pkg === undefined) {
        throw new CoreError(
          'E_PLUGIN_MANIFEST',
          `Plugin "${name}" asks for "${manifest.isolation}" isolation but is given as an object: an isolated plugin runs from its package folder (its entry module is imported in the worker); give its folder instead`,
          { details: { plugin: name, isolation: manifest.isolation } },
        )
      }
      const { entryPath } = pkg
      const level = manifest.isolation
      const flag = level === 'process' ? permissionFlag(deps.nodeFlags) : undefined
      if (level === 'process' && flag === undefined) {
        throw new CoreError(
          'E_PLUGIN_MANIFEST',
          `Plugin "${name}" asks for "process" isolation, but this Node (${process.version}) has no permission model (--permission or --experimental-permission) to confine it; run the hub on Node 20 or later, or use "worker"`,
          { details: { plugin: name, isolation: level, node: process.version } },
        )
      }
      if (level !== 'worker' && level !== 'process') {
        throw new CoreError(
          'E_PLUGIN_MANIFEST',
          `Plugin "${name}" asks for "${String(level)}" isolation, which this kernel does not offer; use "inline", "worker" or "process"`,
          { details: { plugin: name, isolation: level } },
        )
      }
      await sessions.get(name)?.terminate() // a worker or process left behind by a failed step
      const asked = manifest.resourceLimits?.maxOldGenerationSizeMb
      if (asked !== undefined && asked > capMb)
        deps.logger.warn(
          { plugin: name, asked, cap: capMb },
          `plugin "${name}" asks for a ${asked} MB heap; the hub caps it at ${capMb} MB`,
        )
      let inFlight = 0
      const common = {
        name,
        entryPath,
        heartbeatMs,
        watchdogMs,
        startupMs: Math.max(watchdogMs, deps.loadTimeoutMs),
        syncTimeoutMs: watchdogMs,
        logger: deps.logger,
        onExit: (error: CoreError) => {
          if (sessions.get(name) === session) sessions.delete(name)
          // A step in flight fails through the kernel's own path (its call rejects).
          if (inFlight === 0) onCrash(name, error)
        },
      }
      const heapMb = Math.min(asked ?? capMb, capMb)
      const session =
        flag !== undefined
          ? await startProcessSession({
              ...common,
              pluginDir: pkg.dir,
              dataDir: join(dataRoot, name),
              permissionFlag: flag,
              maxOldGenerationSizeMb: heapMb,
            })
          : await startWorkerSession({
              ...common,
              resourceLimits: { maxOldGenerationSizeMb: heapMb },
            })
      if (closed) {
        await session.terminate()
        throw new CoreError('E_UNAVAILABLE', 'The kernel is stopping')
      }
      sessions.set(name, session)
      return createWorkerPlugin(session, {
        enter: () => {
          inFlight++
        },
        leave: () => {
          inFlight--
        },
      })
    },
    close: async () => {
      closed = true
      for (const r of restarts.values()) if (r.timer !== undefined) clearTimeout(r.timer)
      restarts.clear()
      const all = [...sessions.values()]
      sessions.clear()
      await Promise.all(all.map((s) => s.terminate()))
    },
  }
}
