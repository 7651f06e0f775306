import { type Clock, CoreError, type Logger, rateLimited, systemClock } from '@core/contracts'
import { createEventBus } from '@core/event-bus'
import { createServiceRegistry } from '@core/service-registry'
import { createStateEngine } from '@core/state-engine'
import { createMemoryAdapter, createStorage } from '@core/storage'
import { pino } from 'pino'
import { boot } from './boot.js'
import { createFaultContainment, DEFAULT_STALL_THRESHOLD_MS } from './fault-containment.js'
import { addHealthCheck, health, stats } from './health.js'
import { createIsolation, type Isolation } from './isolation/supervisor.js'
import { exclusive, type KernelState } from './kernel-state.js'
import { DEFAULT_SHUTDOWN_TIMEOUT_MS, stepTimeout } from './lifecycle.js'
import { CORE_API_VERSION, ConfigSchemas } from './manifest.js'
import { withMetrics } from './metrics.js'
import { checkOptions } from './options.js'
import { createPersistentStateBackend } from './persistent-state.js'
import { createPluginManager } from './plugin-manager.js'
import { releaseContext, transition } from './plugin-record.js'
import { compilePolicy } from './policy.js'
import { createSecurity } from './security.js'
import { closeOwned, keepingAlive, shutdown } from './shutdown.js'
import type { BootReport, CreateKernelOptions, Kernel, StopReport } from './types.js'

/**
 * Creates the kernel: an event bus, a service registry, a state engine and a storage, plus
 * the plugin manager that discovers, validates, orders, loads, sets up, starts, reloads and
 * stops plugins, each through its scoped, permission-checked `ctx`.
 *
 * Boot (`start()`): discover (host package dependencies with `corePlugin`, then each
 * subfolder of `pluginDirs`, then `plugins`) → validate manifests → resolve dependencies
 * (semver, cycles, topological order) → restore the persisted state namespaces (option
 * `persistState`, and each plugin whose manifest says `persistState: true`) from storage →
 * for each plugin in order: import entry → run
 * storage migrations → `setup(ctx)` → `start()`, each step under `lifecycleTimeoutMs`.
 * A failing optional plugin is marked failed and its dependents skipped (reason recorded);
 * a failing required plugin (in `required`, or needed by one that is) stops the boot: what
 * started is stopped again and `start()` rejects. Every transition is published as
 * `core.plugin.<state>` (data: {@link PluginTransitionEvent}).
 *
 * @param options - See {@link CreateKernelOptions}; all optional.
 * @returns The {@link Kernel} (not started).
 * @throws {@link @core/contracts!CoreError} `E_VALIDATION` for a malformed option. `start()` rejects with
 *   `E_PLUGIN_MANIFEST` (two plugins with one name, naming both paths; a malformed host
 *   package.json), `E_NOT_FOUND` (a missing plugin folder or explicit plugin),
 *   `E_PLUGIN_DEPENDENCY` (a required plugin missing, incompatible or on a cycle) or
 *   `E_PLUGIN_LIFECYCLE` (a required plugin failed: names the plugin, the step and the cause)
 *   or `E_STORAGE` (the persisted state namespaces could not be restored from storage).
 * @see semver 2.0.0 (node-semver); JSON Schema 2020-12; CloudEvents 1.0
 * @example
 * ```ts
 * const kernel = createKernel({ pluginDirs: ['./plugins'], required: ['devices'] })
 * const report = await kernel.start()
 * console.log('started', report.started)
 * process.once('SIGINT', () => void kernel.stop())
 * ```
 * @public
 */
export function createKernel(options: CreateKernelOptions = {}): Kernel {
  checkOptions(options)
  const k = createKernelState(options)
  const plugins = createPluginManager(k)
  k.startPlugin = (name) => plugins.start(name)
  k.onFilesChanged = (name) => {
    plugins
      .reload(name)
      .catch((error: unknown) =>
        k.log.error({ err: error, plugin: name }, 'reload after a file change failed'),
      )
  }
  return withMetrics(options.metrics, {
    apiVersion: CORE_API_VERSION,
    bus: k.bus,
    services: k.services,
    state: k.state,
    storage: k.storage,
    logger: k.logger,
    plugins,
    start: () => exclusive(k, () => start(k)),
    stop: () => exclusive(k, () => stop(k)),
    health: () => health(k),
    addHealthCheck: (name, check) => addHealthCheck(k, name, check),
    stats: () => stats(k),
    security: k.security,
  })
}

/** Builds the components and the shared {@link KernelState} from the (checked) options. */
function createKernelState(options: CreateKernelOptions): KernelState {
  const clock: Clock = options.clock ?? systemClock
  const logger: Logger =
    options.logger ??
    (pino({ name: 'core', level: process.env.CORE_LOG_LEVEL ?? 'info' }) as unknown as Logger)
  const log = logger.child({ component: 'kernel' })
  const policy = options.policy === undefined ? undefined : compilePolicy(options.policy)
  const denialLog = rateLimited(log, { clock })
  const bus = createEventBus({ logger, clock, source: '/core' })
  const services = createServiceRegistry({
    logger,
    clock,
    ...(options.remote === undefined ? {} : { remote: options.remote }),
  })
  const storage = options.storage ?? createStorage(createMemoryAdapter())
  // Without a state backend of the caller's, state is kept by one that persists the
  // namespaces of `persistState` and of the manifests saying `persistState: true`.
  const persistedState =
    options.stateBackend !== undefined
      ? undefined
      : createPersistentStateBackend({
          storage,
          namespaces: options.persistState ?? [],
          clock,
          logger: log,
        })
  const state = createStateEngine({
    bus,
    logger,
    clock,
    backend: options.stateBackend ?? persistedState,
  })
  const k: KernelState = {
    options,
    clock,
    logger,
    log,
    bus,
    services,
    state,
    storage,
    ownsStorage: options.storage === undefined,
    persistedState,
    policy,
    // A plugin probing what it may do must not flood the log: 10 lines per plugin and minute.
    denialLog,
    security: createSecurity({ policy, bus, limited: denialLog }),
    schemas: new ConfigSchemas(),
    records: new Map(),
    order: [],
    required: new Set(),
    phase: 'idle',
    lastStop: undefined,
    chain: Promise.resolve(),
    released: { subscriptions: 0, services: 0, watches: 0, timers: 0 },
    containment: undefined,
    healthChecks: new Map(),
    isolation: undefined as unknown as Isolation,
    startPlugin: () => Promise.resolve(),
    onFilesChanged: () => {},
  }
  // Isolated (worker) plugins: started in workers by importEntry, failed and restarted here.
  k.isolation = createIsolation({
    logger: log,
    options: options.isolation,
    defaultWatchdogMs: stepTimeout(options.lifecycleTimeoutMs, 'start'),
    loadTimeoutMs: stepTimeout(options.lifecycleTimeoutMs, 'load'),
    failPlugin: (name, error, reason) => {
      const rec = k.records.get(name)
      if (rec === undefined || rec.state !== 'started') return
      releaseContext(k, rec)
      transition(k, rec, 'failed', { step: 'start', error, reason })
    },
    restartPlugin: (name) =>
      k.records.get(name)?.state === 'failed' ? k.startPlugin(name) : Promise.resolve(),
  })
  if (options.containFaults === true) {
    k.containment = createFaultContainment({
      logger: log,
      stallThresholdMs: options.stallThresholdMs ?? DEFAULT_STALL_THRESHOLD_MS,
      *folders() {
        for (const rec of k.records.values())
          if (rec.pkg !== undefined) yield [rec.name, rec.pkg.dir]
      },
      failPlugin: (name, error) => {
        const rec = k.records.get(name)
        if (rec === undefined || rec.state === 'failed' || rec.state === 'unloaded') return
        rec.handle?.abort(error)
        releaseContext(k, rec)
        transition(k, rec, 'failed', { error, reason: error.message })
      },
    })
  }
  return k
}

async function start(k: KernelState): Promise<BootReport> {
  if (k.phase !== 'idle') {
    throw new CoreError(
      'E_CONFLICT',
      `The kernel cannot start: it is ${k.phase}; create a new kernel to start again`,
      { details: { phase: k.phase } },
    )
  }
  k.phase = 'starting'
  k.containment?.install()
  try {
    const report = await boot(k)
    k.containment?.watchStalls()
    k.phase = 'running'
    return report
  } catch (error) {
    await keepingAlive(async () => {
      await shutdown(k, shutdownDeadline(k))
      await k.isolation.close()
    })
    k.containment?.uninstall()
    k.phase = 'failed'
    throw error
  }
}

async function stop(k: KernelState): Promise<StopReport> {
  if (k.lastStop !== undefined) return k.lastStop
  const t0 = k.clock.now()
  const deadline = shutdownDeadline(k)
  k.phase = 'stopping'
  const report = await keepingAlive(async () => {
    const stopped = await shutdown(k, deadline)
    await k.isolation.close()
    await closeOwned(k, deadline)
    return stopped
  })
  k.containment?.uninstall()
  k.phase = 'stopped'
  report.durationMs = k.clock.now() - t0
  k.lastStop = report
  k.log.info(
    { stopped: report.stopped.length, failed: report.failed.length, durationMs: report.durationMs },
    'kernel stopped',
  )
  return report
}

/** Epoch ms (kernel clock) by which a shutdown starting now must end. */
function shutdownDeadline(k: KernelState): number {
  return k.clock.now() + (k.options.shutdownTimeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS)
}
