import { pathToFileURL } from 'node:url'
import {
  type Clock,
  CoreError,
  deepFreeze,
  type Logger,
  type PluginManifest,
  systemClock,
} from '@core/contracts'
import { createEventBus } from '@core/event-bus'
import { createServiceRegistry } from '@core/service-registry'
import { createStateEngine } from '@core/state-engine'
import { createMemoryAdapter, createStorage, runPluginMigrations } from '@core/storage'
import { pino } from 'pino'
import semver from 'semver'
import { type ContextHandle, createScopedContext, type ResourceCounts } from './context.js'
import { resolveDependencies } from './dependencies.js'
import { discoverCandidates, hostFolder, resolvePluginSpec } from './discovery.js'
import { createFaultContainment, DEFAULT_STALL_THRESHOLD_MS } from './fault-containment.js'
import {
  DEFAULT_SHUTDOWN_TIMEOUT_MS,
  lifecycleError,
  type PluginInstance,
  stepTimeout,
  toPluginInstance,
  withTimeout,
} from './lifecycle.js'
import {
  CORE_API_VERSION,
  ConfigSchemas,
  checkManifest,
  manifestError,
  type PluginPackage,
  readPluginPackage,
} from './manifest.js'
import { PermissionChecker } from './permissions.js'
import { createPersistentStateBackend } from './persistent-state.js'
import type {
  BootReport,
  ComponentHealth,
  CreateKernelOptions,
  HealthCheck,
  HealthReport,
  HealthStatus,
  InlinePlugin,
  Kernel,
  KernelStats,
  LifecycleStep,
  PluginHealth,
  PluginHooks,
  PluginInfo,
  PluginLifecycleState,
  PluginManager,
  PluginSource,
  PluginTransitionEvent,
  StopReport,
} from './types.js'
import { type PluginWatcher, watchPlugin } from './watcher.js'

interface PluginRecord {
  name: string
  version: string
  path: string
  source: PluginSource
  manifest: PluginManifest
  pkg: PluginPackage | undefined
  inline: InlinePlugin | undefined
  state: PluginLifecycleState
  error: CoreError | undefined
  failedStep: LifecycleStep | undefined
  reason: string | undefined
  reloads: number
  denials: number
  since: number
  generation: number
  instance: PluginInstance | undefined
  hooks: PluginHooks<unknown> | undefined
  handle: ContextHandle | undefined
  watcher: PluginWatcher | undefined
  /** The entry import started ahead of the load step (boot imports all entries concurrently). */
  preload: Promise<Record<string, unknown>> | undefined
}

type Phase = 'idle' | 'starting' | 'running' | 'stopping' | 'stopped' | 'failed'

/**
 * Creates the kernel: an event bus, a service registry, a state engine and a storage, plus
 * the plugin manager that discovers, validates, orders, loads, sets up, starts, reloads and
 * stops plugins, each through its scoped, permission-checked `ctx`.
 *
 * Boot (`start()`): restore the `persistState` namespaces from storage → discover (host package dependencies with `corePlugin`, then each
 * subfolder of `pluginDirs`, then `plugins`) → validate manifests → resolve dependencies
 * (semver, cycles, topological order) → for each plugin in order: import entry → run
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
 *   or `E_STORAGE` (the `persistState` namespaces could not be restored from storage).
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
  const clock: Clock = options.clock ?? systemClock
  const logger: Logger =
    options.logger ??
    (pino({ name: 'core', level: process.env.CORE_LOG_LEVEL ?? 'info' }) as unknown as Logger)
  const log = logger.child({ component: 'kernel' })
  const bus = createEventBus({ logger, clock, source: '/core' })
  const services = createServiceRegistry({ logger, clock })
  const ownsStorage = options.storage === undefined
  const storage = options.storage ?? createStorage(createMemoryAdapter())
  const persistedState =
    options.persistState === undefined || options.persistState.length === 0
      ? undefined
      : createPersistentStateBackend({
          storage,
          namespaces: options.persistState,
          clock,
          logger: log,
        })
  const state = createStateEngine({
    bus,
    logger,
    clock,
    backend: persistedState ?? options.stateBackend,
  })
  const schemas = new ConfigSchemas()
  const records = new Map<string, PluginRecord>()
  let order: string[] = []
  let required = new Set<string>()
  let phase: Phase = 'idle'
  let lastStop: StopReport | undefined
  let chain: Promise<unknown> = Promise.resolve()
  const released: ResourceCounts = { subscriptions: 0, services: 0, watches: 0, timers: 0 }
  const containment =
    options.containFaults === true
      ? createFaultContainment({
          logger: log,
          stallThresholdMs: options.stallThresholdMs ?? DEFAULT_STALL_THRESHOLD_MS,
          *folders() {
            for (const rec of records.values())
              if (rec.pkg !== undefined) yield [rec.name, rec.pkg.dir]
          },
          failPlugin: (name, error) => {
            const rec = records.get(name)
            if (rec === undefined || rec.state === 'failed' || rec.state === 'unloaded') return
            rec.handle?.abort(error)
            releaseContext(rec)
            transition(rec, 'failed', { error, reason: error.message })
          },
        })
      : undefined
  /** Runs a lifecycle step under its timeout, watched by the stall watchdog when there is one. */
  const watched = async <T>(
    rec: PluginRecord,
    step: LifecycleStep,
    what: string,
    work: () => T | Promise<T>,
    limitMs?: number,
  ): Promise<T> => {
    const ms = Math.min(timeout(step), limitMs ?? Number.POSITIVE_INFINITY)
    containment?.stepStarted(rec.name, step, ms)
    try {
      return await withTimeout(clock, ms, what, work)
    } finally {
      containment?.stepEnded()
    }
  }

  const exclusive = <T>(work: () => Promise<T>): Promise<T> => {
    const run = chain.then(work, work)
    chain = run.catch(() => undefined)
    return run
  }
  const timeout = (step: LifecycleStep): number => stepTimeout(options.lifecycleTimeoutMs, step)

  // ─── transitions ───────────────────────────────────────────────────────────────────────
  const transition = (
    rec: PluginRecord,
    next: PluginLifecycleState,
    extra: { step?: LifecycleStep; error?: CoreError; reason?: string } = {},
  ): void => {
    const previous = rec.state
    rec.state = next
    rec.since = clock.now()
    if (next === 'failed') {
      rec.error = extra.error
      rec.failedStep = extra.step
    } else if (next !== 'stopped' && next !== 'unloaded') {
      rec.error = undefined
      rec.failedStep = undefined
    }
    rec.reason = extra.reason ?? (next === 'started' ? undefined : rec.reason)
    const data: PluginTransitionEvent = {
      name: rec.name,
      version: rec.version,
      state: next,
      previous,
    }
    if (extra.step !== undefined) data.step = extra.step
    if (extra.error !== undefined) data.error = extra.error.toJSON()
    if (extra.reason !== undefined) data.reason = extra.reason
    if (next === 'failed')
      log.error(
        { plugin: rec.name, step: extra.step, err: extra.error },
        extra.error?.message ?? 'plugin failed',
      )
    else log.debug({ plugin: rec.name, state: next, previous }, `plugin ${rec.name} ${next}`)
    bus
      .publish(`core.plugin.${next}`, data, { source: '/core/kernel', wait: false })
      .catch((error: unknown) => {
        log.warn({ err: error }, 'could not publish a plugin transition')
      })
  }

  const fail = (rec: PluginRecord, step: LifecycleStep, cause: unknown): CoreError => {
    const error =
      (step === 'discover' || step === 'resolve') && CoreError.is(cause)
        ? cause
        : lifecycleError(rec.name, step, cause)
    releaseContext(rec)
    transition(rec, 'failed', { step, error })
    return error
  }

  const releaseContext = (rec: PluginRecord): void => {
    rec.watcher?.close()
    rec.watcher = undefined
    const handle = rec.handle
    if (handle === undefined) return
    const counts = handle.counts()
    handle.release()
    for (const k of Object.keys(released) as Array<keyof ResourceCounts>) released[k] += counts[k]
    rec.handle = undefined
    rec.hooks = undefined
  }

  // ─── records ───────────────────────────────────────────────────────────────────────────
  const newRecord = (
    base: Pick<
      PluginRecord,
      'name' | 'version' | 'path' | 'source' | 'manifest' | 'pkg' | 'inline'
    >,
  ): PluginRecord => ({
    ...base,
    state: 'discovered',
    error: undefined,
    failedStep: undefined,
    reason: undefined,
    reloads: 0,
    denials: 0,
    since: clock.now(),
    generation: 0,
    instance: undefined,
    hooks: undefined,
    handle: undefined,
    watcher: undefined,
    preload: undefined,
  })

  const fromPackage = (pkg: PluginPackage, source: PluginSource): PluginRecord =>
    newRecord({
      name: pkg.name,
      version: pkg.version,
      path: pkg.dir,
      source,
      manifest: pkg.manifest,
      pkg,
      inline: undefined,
    })

  const fromInline = (spec: InlinePlugin): PluginRecord => {
    const manifest = { entry: 'inline', ...spec.manifest } as PluginManifest
    return newRecord({
      name: manifest.name,
      version: spec.version ?? '0.0.0',
      path: `inline:${manifest.name}`,
      source: 'inline',
      manifest,
      pkg: undefined,
      inline: spec,
    })
  }

  const failedRecord = (path: string, source: PluginSource, error: CoreError): PluginRecord => {
    const guess = error.details?.plugin
    const name = typeof guess === 'string' ? guess : (path.split(/[\\/]/).pop() ?? path)
    const rec = newRecord({
      name,
      version: '0.0.0',
      path,
      source,
      manifest: { name, entry: '', coreApi: '*' },
      pkg: undefined,
      inline: undefined,
    })
    rec.state = 'failed'
    rec.error = error
    rec.failedStep = 'discover'
    return rec
  }

  const checkCoreApi = (rec: PluginRecord): CoreError | undefined => {
    if (semver.satisfies(CORE_API_VERSION, rec.manifest.coreApi, { includePrerelease: true }))
      return undefined
    return new CoreError(
      'E_PLUGIN_DEPENDENCY',
      `Plugin "${rec.name}" needs core API ${rec.manifest.coreApi}, but this kernel offers ${CORE_API_VERSION}; install a plugin version built for core API ${CORE_API_VERSION} or change corePlugin.coreApi`,
      {
        details: {
          plugin: rec.name,
          dependency: 'core',
          wanted: rec.manifest.coreApi,
          found: CORE_API_VERSION,
        },
      },
    )
  }

  /** Re-reads a disk plugin's package.json (its manifest may have changed). */
  const refresh = async (rec: PluginRecord): Promise<void> => {
    if (rec.inline !== undefined) return
    // A plugin that failed at discovery has no package yet: read it from its folder again.
    const pkg = (await readPluginPackage(rec.pkg?.dir ?? rec.path, schemas)) as PluginPackage
    if (pkg.name !== rec.name) {
      throw new CoreError(
        'E_PLUGIN_MANIFEST',
        `Plugin at ${pkg.dir} was renamed from "${rec.name}" to "${pkg.name}"; unload it and load it again`,
        { details: { path: pkg.packageJsonPath, plugin: rec.name } },
      )
    }
    rec.pkg = pkg
    rec.manifest = pkg.manifest
    rec.version = pkg.version
  }

  /** Checks a plugin's dependencies against the plugins known now. */
  const checkDependencies = (rec: PluginRecord): CoreError | undefined => {
    const api = checkCoreApi(rec)
    if (api) return api
    const available = new Map<string, string>()
    for (const other of records.values())
      if (other !== rec) available.set(other.name, other.version)
    const { problems } = resolveDependencies(
      [
        {
          name: rec.name,
          version: rec.version,
          requires: rec.manifest.requires ?? {},
          optionalRequires: rec.manifest.optionalRequires ?? {},
        },
      ],
      available,
    )
    return problems.get(rec.name)
  }

  const dependenciesOf = (rec: PluginRecord): string[] => [
    ...Object.keys(rec.manifest.requires ?? {}),
    ...Object.keys(rec.manifest.optionalRequires ?? {}),
  ]

  /** Started plugins that depend (required or optional), directly or not, on `name`; in start order. */
  const dependentsOf = (name: string): string[] => {
    const hit = new Set<string>([name])
    const out: string[] = []
    for (const other of order) {
      const rec = records.get(other)
      if (rec === undefined || hit.has(other)) continue
      if (dependenciesOf(rec).some((d) => hit.has(d))) {
        hit.add(other)
        if (rec.state === 'started') out.push(other)
      }
    }
    return out
  }

  const blockedBy = (rec: PluginRecord): string | undefined => {
    for (const dep of Object.keys(rec.manifest.requires ?? {})) {
      const d = records.get(dep)
      if (d?.state !== 'started')
        return `dependency "${dep}" is ${d === undefined ? 'missing' : d.state}`
    }
    return undefined
  }

  // ─── steps ─────────────────────────────────────────────────────────────────────────────
  /** Imports a disk plugin's entry; a new generation gets a fresh module instance (cache-busting query). */
  const importEntry = (rec: PluginRecord): Promise<Record<string, unknown>> => {
    const url = pathToFileURL((rec.pkg as PluginPackage).entryPath).href
    const specifier = rec.generation === 0 ? url : `${url}?core-reload=${rec.generation}`
    return import(specifier) as Promise<Record<string, unknown>>
  }

  const load = async (rec: PluginRecord): Promise<void> => {
    try {
      if (rec.inline !== undefined) {
        rec.instance = toPluginInstance(
          { default: rec.inline.plugin, migrations: rec.inline.migrations },
          rec.path,
        )
      } else {
        const pkg = rec.pkg as PluginPackage
        const pending = rec.preload ?? importEntry(rec)
        rec.preload = undefined
        const mod = await withTimeout(
          clock,
          timeout('load'),
          `Importing ${pkg.entryPath}`,
          () => pending,
        )
        rec.instance = toPluginInstance(mod, pkg.entryPath)
      }
    } catch (error) {
      throw fail(rec, 'load', error)
    }
    transition(rec, 'loaded')
  }

  const setup = async (rec: PluginRecord): Promise<void> => {
    const instance = rec.instance as PluginInstance
    let step: LifecycleStep = 'migrate'
    try {
      if (rec.manifest.storage !== undefined) {
        const version = rec.manifest.storage.version
        await withTimeout(
          clock,
          timeout('migrate'),
          `Migrating the data of plugin "${rec.name}"`,
          () =>
            runPluginMigrations(storage, rec.name, {
              version,
              migrations: instance.migrations as Record<number, never> | undefined,
            }),
        )
      }
      step = 'setup'
      const config = validateConfig(rec)
      const perms = new PermissionChecker(rec.name, rec.manifest.permissions)
      const handle = createScopedContext({
        name: rec.name,
        version: rec.version,
        manifest: rec.manifest,
        config,
        bus,
        services,
        state,
        storage,
        clock,
        logger: logger.child({ plugin: rec.name }),
        permissions: perms,
        onDenied: (error) => {
          rec.denials++
          log.warn({ plugin: rec.name, ...error.details }, error.message)
        },
      })
      rec.handle = handle
      await watched(rec, 'setup', `setup() of plugin "${rec.name}"`, async () => {
        const hooks = instance.create ? await instance.create(handle.ctx) : instance.hooks
        // A setup abandoned after its timeout must not overwrite the hooks of a later load.
        if (rec.handle === handle) rec.hooks = hooks
        await hooks.setup?.(handle.ctx)
      })
    } catch (error) {
      throw fail(rec, step, error)
    }
    transition(rec, 'setup')
  }

  const startStep = async (rec: PluginRecord): Promise<void> => {
    rec.handle?.renew()
    try {
      await watched(rec, 'start', `start() of plugin "${rec.name}"`, () => rec.hooks?.start?.())
    } catch (error) {
      throw fail(rec, 'start', error)
    }
    transition(rec, 'started')
    if (options.watch && rec.pkg !== undefined && rec.watcher === undefined) {
      const debounceMs = typeof options.watch === 'object' ? options.watch.debounceMs : undefined
      rec.watcher = watchPlugin(rec.pkg.dir, debounceMs, () => {
        log.info({ plugin: rec.name }, `files of plugin "${rec.name}" changed: reloading`)
        manager
          .reload(rec.name)
          .catch((error: unknown) =>
            log.error({ err: error, plugin: rec.name }, 'reload after a file change failed'),
          )
      })
    }
  }

  /** discovered/unloaded/failed → started; throws the plugin's error. */
  const bringUp = async (rec: PluginRecord): Promise<void> => {
    if (rec.state === 'started') return
    if (rec.state === 'stopped') return startStep(rec)
    if (rec.state !== 'setup') {
      if (rec.state !== 'loaded') await load(rec)
      await setup(rec)
    }
    await startStep(rec)
  }

  /** started → stopped. Returns the error instead of throwing (the plugin is marked failed). */
  const stopStep = async (rec: PluginRecord, limitMs?: number): Promise<CoreError | undefined> => {
    if (rec.state !== 'started') return undefined
    rec.handle?.abort(new CoreError('E_CANCELLED', `Plugin "${rec.name}" is stopping`))
    try {
      await watched(
        rec,
        'stop',
        `stop() of plugin "${rec.name}"`,
        () => rec.hooks?.stop?.(),
        limitMs,
      )
    } catch (error) {
      return fail(rec, 'stop', error)
    }
    transition(rec, 'stopped')
    return undefined
  }

  /** setup/stopped → unloaded, releasing the context. */
  const unloadStep = async (
    rec: PluginRecord,
    limitMs?: number,
  ): Promise<CoreError | undefined> => {
    if (rec.state !== 'setup' && rec.state !== 'stopped' && rec.state !== 'loaded') return undefined
    try {
      await withTimeout(
        clock,
        Math.min(timeout('unload'), limitMs ?? Number.POSITIVE_INFINITY),
        `unload() of plugin "${rec.name}"`,
        () => rec.hooks?.unload?.(),
      )
    } catch (error) {
      return fail(rec, 'unload', error)
    }
    releaseContext(rec)
    rec.instance = undefined
    transition(rec, 'unloaded')
    return undefined
  }

  const validateConfig = (rec: PluginRecord): Readonly<Record<string, unknown>> => {
    const given = options.config?.[rec.name]
    const value = structuredClone(given ?? {}) as Record<string, unknown>
    if (rec.manifest.config !== undefined) {
      const validate = schemas.compile(rec.manifest.config)
      if (!validate(value)) {
        const issues = (validate.errors ?? []).map(
          (e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`,
        )
        throw new CoreError(
          'E_VALIDATION',
          `Invalid config of plugin "${rec.name}": ${issues.join('; ')}; fix config.${rec.name}`,
          { details: { plugin: rec.name, errors: validate.errors ?? [] } },
        )
      }
    }
    deepFreeze(value)
    return value
  }

  // ─── boot ──────────────────────────────────────────────────────────────────────────────
  const boot = async (): Promise<BootReport> => {
    const t0 = clock.now()
    const report: BootReport = { started: [], failed: [], skipped: [], durationMs: 0 }
    // Persisted state namespaces are loaded from storage before any plugin is loaded.
    await persistedState?.restore({ state })
    const candidates = await discoverCandidates({
      hostPackage: options.hostPackage,
      pluginDirs: options.pluginDirs,
      plugins: (options.plugins ?? []).filter((p): p is string => typeof p === 'string'),
    })
    const read = await Promise.all(
      candidates.map((c) =>
        readPluginPackage(c.dir, schemas, c.optional).then(
          (pkg) => ({ c, pkg, error: undefined }),
          (error: unknown) => ({ c, pkg: undefined, error: error as CoreError }),
        ),
      ),
    )
    const all: PluginRecord[] = []
    for (const { c, pkg, error } of read) {
      if (error !== undefined) all.push(failedRecord(c.dir, c.source, error))
      else if (pkg !== undefined) all.push(fromPackage(pkg, c.source))
    }
    for (const spec of options.plugins ?? []) {
      if (typeof spec === 'string') continue
      const rec = fromInline(spec)
      const issues = checkManifest({ version: rec.version, corePlugin: rec.manifest }, schemas)
      const error = issues.length === 0 ? undefined : manifestError(rec.path, issues, rec.name)
      all.push(error === undefined ? rec : failedRecord(rec.path, 'inline', error))
    }

    for (const rec of all) {
      const first = records.get(rec.name)
      if (first !== undefined) {
        throw new CoreError(
          'E_PLUGIN_MANIFEST',
          `Plugin name "${rec.name}" is used twice: by ${first.path} and by ${rec.path}; remove one or rename it`,
          { details: { plugin: rec.name, paths: [first.path, rec.path] } },
        )
      }
      records.set(rec.name, rec)
    }
    const discoveryFailures = all.filter((r) => r.state === 'failed')
    const valid = all.filter((r) => r.state !== 'failed')
    const resolution = resolveDependencies(
      valid.map((r) => ({
        name: r.name,
        version: r.version,
        requires: r.manifest.requires ?? {},
        optionalRequires: r.manifest.optionalRequires ?? {},
      })),
    )
    order = [...resolution.order, ...discoveryFailures.map((r) => r.name)]
    required = requiredClosure(options.required ?? [])
    for (const name of required) {
      if (records.has(name)) continue
      const hints = discoveryFailures.map((r) => `${r.path}: ${r.error?.message}`)
      throw new CoreError(
        'E_PLUGIN_DEPENDENCY',
        `Required plugin "${name}" was not found${hints.length ? `; plugins that could not be read: ${hints.join(' | ')}` : ''}; install it or remove it from "required"`,
        { details: { plugin: name, dependency: name, found: null } },
      )
    }
    for (const rec of discoveryFailures) {
      report.failed.push({ name: rec.name, step: 'discover', error: rec.error as CoreError })
      transition(rec, 'failed', { step: 'discover', error: rec.error as CoreError })
    }
    for (const rec of valid) {
      transition(rec, 'discovered')
      const problem = checkCoreApi(rec) ?? resolution.problems.get(rec.name)
      if (problem !== undefined) {
        transition(rec, 'failed', { step: 'resolve', error: problem })
        if (required.has(rec.name)) throw problem
        report.failed.push({ name: rec.name, step: 'resolve', error: problem })
      }
    }
    // Import every entry at once (the loader reads and compiles files concurrently); each
    // plugin's load step then awaits its own import, in order, under its timeout.
    for (const rec of valid) {
      if (rec.state === 'failed' || rec.pkg === undefined) continue
      rec.preload = importEntry(rec)
      rec.preload.catch(() => undefined)
    }
    for (const name of order) {
      const rec = records.get(name) as PluginRecord
      if (rec.state === 'failed') continue
      const blocked = blockedBy(rec)
      if (blocked !== undefined) {
        rec.reason = `not started: ${blocked}`
        report.skipped.push({ name, reason: rec.reason })
        log.warn({ plugin: name, reason: rec.reason }, `plugin "${name}" ${rec.reason}`)
        if (required.has(name)) {
          throw new CoreError(
            'E_PLUGIN_DEPENDENCY',
            `Required plugin "${name}" was ${rec.reason}`,
            { details: { plugin: name } },
          )
        }
        continue
      }
      try {
        await bringUp(rec)
        report.started.push(name)
      } catch (error) {
        if (required.has(name)) throw error
        report.failed.push({ name, step: rec.failedStep ?? 'setup', error: error as CoreError })
      }
    }
    report.durationMs = clock.now() - t0
    log.info(
      {
        started: report.started.length,
        failed: report.failed.length,
        skipped: report.skipped.length,
        durationMs: report.durationMs,
      },
      `kernel started: ${report.started.join(', ') || 'no plugins'}`,
    )
    return report
  }

  const requiredClosure = (names: readonly string[]): Set<string> => {
    const out = new Set<string>()
    const visit = (name: string): void => {
      if (out.has(name)) return
      out.add(name)
      for (const dep of Object.keys(records.get(name)?.manifest.requires ?? {})) visit(dep)
    }
    for (const n of names) visit(n)
    return out
  }

  // ─── shutdown ──────────────────────────────────────────────────────────────────────────
  const shutdown = async (deadlineAt: number): Promise<StopReport> => {
    const t0 = clock.now()
    const report: StopReport = { stopped: [], failed: [], timedOut: false, durationMs: 0 }
    for (const name of [...order].reverse()) {
      const rec = records.get(name)
      if (rec === undefined || !['started', 'setup', 'stopped', 'loaded'].includes(rec.state))
        continue
      const left = deadlineAt - clock.now()
      if (left <= 0) {
        report.timedOut = true
        const error = new CoreError(
          'E_TIMEOUT',
          'abandoned: the shutdown deadline passed before its turn',
          {
            details: { plugin: name },
          },
        )
        report.failed.push({ name, step: 'stop', error: fail(rec, 'stop', error) })
        continue
      }
      const stopError = await stopStep(rec, left)
      if (stopError !== undefined) {
        report.failed.push({ name, step: 'stop', error: stopError })
        continue
      }
      const unloadError = await unloadStep(rec, Math.max(1, deadlineAt - clock.now()))
      if (unloadError !== undefined)
        report.failed.push({ name, step: 'unload', error: unloadError })
      else report.stopped.push(name)
    }
    if (clock.now() > deadlineAt) report.timedOut = true
    report.durationMs = clock.now() - t0
    return report
  }

  const closeOwned = async (deadlineAt: number): Promise<void> => {
    const left = Math.max(1, deadlineAt - clock.now())
    await withTimeout(clock, left, 'Closing the state engine and storage', async () => {
      persistedState?.close()
      await state.close()
      if (ownsStorage) await storage.close()
    }).catch((error: unknown) => log.error({ err: error }, 'closing the kernel components failed'))
  }

  // ─── plugin manager ────────────────────────────────────────────────────────────────────
  const find = (name: string): PluginRecord => {
    const rec = records.get(name)
    if (rec === undefined) {
      throw new CoreError(
        'E_NOT_FOUND',
        `No plugin "${name}"; known plugins: ${[...records.keys()].join(', ') || 'none'}`,
        {
          details: { plugin: name },
        },
      )
    }
    return rec
  }

  const stopDependents = async (name: string, reason: string): Promise<string[]> => {
    const dependents = dependentsOf(name)
    for (const d of [...dependents].reverse()) {
      const rec = records.get(d) as PluginRecord
      await stopStep(rec)
      if (rec.state === 'stopped') rec.reason = reason
    }
    return dependents
  }

  const restartDependents = async (dependents: readonly string[]): Promise<void> => {
    for (const d of dependents) {
      const rec = records.get(d) as PluginRecord
      const blocked = blockedBy(rec)
      if (blocked !== undefined) {
        rec.reason = `not restarted: ${blocked}`
        continue
      }
      await bringUp(rec).catch(() => undefined)
    }
  }

  /** Plugin operations need a running kernel (not before start(), not after stop()). */
  const running = <T>(work: () => Promise<T>): Promise<T> =>
    exclusive(async () => {
      if (phase !== 'running') {
        throw new CoreError(
          'E_UNAVAILABLE',
          `The kernel is ${phase}: plugins can be driven only while it runs`,
          {
            details: { phase },
          },
        )
      }
      return work()
    })

  const manager: PluginManager = {
    list: async () => order.map((n) => info(records.get(n) as PluginRecord)),
    get: async (name) => info(find(name)),
    start: (name) =>
      running(async () => {
        const rec = find(name)
        if (rec.state === 'started') return info(rec)
        if (rec.state === 'failed' || rec.state === 'unloaded') {
          await refresh(rec).catch((error: unknown) => {
            throw fail(rec, 'discover', error)
          })
          const problem = checkDependencies(rec)
          if (problem !== undefined) throw fail(rec, 'resolve', problem)
          if (rec.state === 'failed') {
            rec.instance = undefined
            rec.generation++
            transition(rec, 'discovered')
          } else rec.generation++
        }
        const blocked = blockedBy(rec)
        if (blocked !== undefined) {
          throw new CoreError(
            'E_PLUGIN_DEPENDENCY',
            `Cannot start plugin "${name}": ${blocked}; start it first`,
            {
              details: { plugin: name },
            },
          )
        }
        await bringUp(rec)
        return info(rec)
      }),
    stop: (name) =>
      running(async () => {
        const rec = find(name)
        await stopDependents(name, `dependency "${name}" was stopped`)
        const error = await stopStep(rec)
        if (error !== undefined) throw error
        return info(rec)
      }),
    reload: (name, reloadOptions) =>
      running(async () => {
        const rec = find(name)
        const dependents =
          reloadOptions?.dependents === false
            ? []
            : await stopDependents(name, `dependency "${name}" is reloading`)
        await stopStep(rec)
        await unloadStep(rec)
        if (rec.state === 'failed') releaseContext(rec)
        try {
          await refresh(rec)
        } catch (error) {
          throw fail(rec, 'discover', error)
        }
        const problem = checkDependencies(rec)
        if (problem !== undefined) throw fail(rec, 'resolve', problem)
        rec.generation++
        rec.reloads++
        rec.instance = undefined
        transition(rec, 'discovered')
        const blocked = blockedBy(rec)
        if (blocked !== undefined) {
          rec.reason = `not started: ${blocked}`
          throw new CoreError(
            'E_PLUGIN_DEPENDENCY',
            `Cannot restart plugin "${name}": ${blocked}`,
            { details: { plugin: name } },
          )
        }
        try {
          await bringUp(rec)
        } catch (error) {
          for (const d of dependents)
            (records.get(d) as PluginRecord).reason =
              `not restarted: dependency "${name}" failed to reload`
          throw error
        }
        await restartDependents(dependents)
        return info(rec)
      }),
    load: (path) =>
      running(async () => {
        const dir = resolvePluginSpec(
          path,
          options.hostPackage === undefined ? process.cwd() : hostFolder(options.hostPackage),
        )
        const pkg = (await readPluginPackage(dir, schemas)) as PluginPackage
        const existing = records.get(pkg.name)
        if (existing !== undefined) {
          if (existing.state !== 'unloaded' && existing.state !== 'failed') {
            throw new CoreError(
              'E_PLUGIN_MANIFEST',
              `Plugin name "${pkg.name}" is used twice: by ${existing.path} (${existing.state}) and by ${pkg.dir}; unload the first or rename one`,
              { details: { plugin: pkg.name, paths: [existing.path, pkg.dir] } },
            )
          }
          releaseContext(existing)
        }
        const rec = fromPackage(pkg, 'load')
        if (existing !== undefined) rec.generation = existing.generation + 1
        records.set(rec.name, rec)
        if (!order.includes(rec.name)) order.push(rec.name)
        transition(rec, 'discovered')
        const problem = checkDependencies(rec)
        if (problem !== undefined) throw fail(rec, 'resolve', problem)
        const blocked = blockedBy(rec)
        if (blocked !== undefined) {
          rec.reason = `not started: ${blocked}`
          throw new CoreError(
            'E_PLUGIN_DEPENDENCY',
            `Cannot start plugin "${rec.name}": ${blocked}`,
            { details: { plugin: rec.name } },
          )
        }
        await bringUp(rec)
        return info(rec)
      }),
    unload: (name) =>
      running(async () => {
        const rec = find(name)
        await stopDependents(name, `dependency "${name}" was unloaded`)
        const stopError = await stopStep(rec)
        if (stopError !== undefined) throw stopError
        const error = await unloadStep(rec)
        if (error !== undefined) throw error
        releaseContext(rec)
        return info(rec)
      }),
  }

  const info = (rec: PluginRecord): PluginInfo => {
    const out: PluginInfo = {
      name: rec.name,
      version: rec.version,
      path: rec.path,
      state: rec.state,
      required: required.has(rec.name),
      source: rec.source,
      requires: { ...rec.manifest.requires },
      optionalRequires: { ...rec.manifest.optionalRequires },
      dependents: order.filter((n) => {
        const other = records.get(n)
        return (
          other !== undefined &&
          other.state === 'started' &&
          dependenciesOf(other).includes(rec.name)
        )
      }),
      reloads: rec.reloads,
      denials: rec.denials,
      since: rec.since,
    }
    if (rec.manifest.description !== undefined) out.description = rec.manifest.description
    if (rec.error !== undefined) out.error = rec.error
    if (rec.failedStep !== undefined) out.failedStep = rec.failedStep
    if (rec.reason !== undefined && rec.state !== 'started') out.reason = rec.reason
    return out
  }

  const resources = (): ResourceCounts => {
    const out: ResourceCounts = { subscriptions: 0, services: 0, watches: 0, timers: 0 }
    for (const rec of records.values()) {
      const c = rec.handle?.counts()
      if (c) for (const k of Object.keys(out) as Array<keyof ResourceCounts>) out[k] += c[k]
    }
    return out
  }

  const healthChecks = new Map<string, HealthCheck>()
  const health = async (): Promise<HealthReport> => {
    const plugins: Record<string, PluginHealth> = {}
    let worst: HealthStatus = 'healthy'
    const worsen = (s: HealthStatus): void => {
      if (s === 'unhealthy' || (s === 'degraded' && worst === 'healthy')) worst = s
    }
    for (const name of order) {
      const rec = records.get(name) as PluginRecord
      const isRequired = required.has(name)
      const troubled =
        rec.state === 'failed' || (rec.state !== 'started' && rec.reason !== undefined)
      const status: HealthStatus = troubled ? (isRequired ? 'unhealthy' : 'degraded') : 'healthy'
      const h: PluginHealth = { status, state: rec.state, required: isRequired }
      if (rec.error !== undefined) h.error = rec.error.message
      if (rec.reason !== undefined && rec.state !== 'started') h.reason = rec.reason
      plugins[name] = h
    }
    const pluginStatus = Object.values(plugins).reduce<HealthStatus>(
      (acc, p) =>
        p.status === 'unhealthy' || acc === 'unhealthy'
          ? 'unhealthy'
          : p.status === 'degraded'
            ? 'degraded'
            : acc,
      'healthy',
    )
    const storageHealth = await withTimeout(clock, 1_000, 'Storage health probe', () =>
      storage.has('core', 'health'),
    )
      .then(
        (): ComponentHealth => ({ status: 'healthy', details: { adapter: storage.adapterName } }),
      )
      .catch(
        (error: unknown): ComponentHealth => ({
          status: 'unhealthy',
          details: {
            adapter: storage.adapterName,
            error: error instanceof Error ? error.message : String(error),
          },
        }),
      )
    const components: Record<string, ComponentHealth> = {
      kernel: {
        status: phase === 'running' ? 'healthy' : 'unhealthy',
        details: { phase, apiVersion: CORE_API_VERSION },
      },
      bus: { status: 'healthy', details: { ...bus.stats() } },
      services: { status: 'healthy', details: { count: services.list().length } },
      state: { status: 'healthy' },
      storage: storageHealth,
      ...(containment === undefined ? {} : { faults: containment.health() }),
      plugins: {
        status: pluginStatus,
        details: {
          total: order.length,
          started: Object.values(plugins).filter((p) => p.state === 'started').length,
        },
      },
    }
    for (const [name, check] of healthChecks) {
      components[name] = await withTimeout(clock, 1_000, `Health check "${name}"`, async () =>
        check(),
      ).catch(
        (error: unknown): ComponentHealth => ({
          status: 'unhealthy',
          details: { error: error instanceof Error ? error.message : String(error) },
        }),
      )
    }
    for (const c of Object.values(components)) worsen(c.status)
    return { status: worst, components, plugins }
  }

  const addHealthCheck = (name: string, check: HealthCheck): (() => void) => {
    if (
      typeof name !== 'string' ||
      !/^[a-z][a-z0-9-]{0,63}$/.test(name) ||
      BUILT_IN_COMPONENTS.has(name)
    ) {
      throw new CoreError(
        'E_VALIDATION',
        `Invalid health check name ${JSON.stringify(name)}: use a lower-case word (a-z, 0-9, "-") other than ${[...BUILT_IN_COMPONENTS].join(', ')}`,
        { details: { name } },
      )
    }
    if (healthChecks.has(name)) {
      throw new CoreError('E_CONFLICT', `A health check named "${name}" is already registered`, {
        details: { name },
      })
    }
    healthChecks.set(name, check)
    return () => {
      if (healthChecks.get(name) === check) healthChecks.delete(name)
    }
  }

  return {
    apiVersion: CORE_API_VERSION,
    bus,
    services,
    state,
    storage,
    logger,
    plugins: manager,
    start: () =>
      exclusive(async () => {
        if (phase !== 'idle') {
          throw new CoreError(
            'E_CONFLICT',
            `The kernel cannot start: it is ${phase}; create a new kernel to start again`,
            {
              details: { phase },
            },
          )
        }
        phase = 'starting'
        containment?.install()
        try {
          const report = await boot()
          containment?.watchStalls()
          phase = 'running'
          return report
        } catch (error) {
          const deadline = clock.now() + (options.shutdownTimeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS)
          await shutdown(deadline)
          containment?.uninstall()
          phase = 'failed'
          throw error
        }
      }),
    stop: () =>
      exclusive(async () => {
        if (lastStop !== undefined) return lastStop
        const t0 = clock.now()
        const deadline = t0 + (options.shutdownTimeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS)
        phase = 'stopping'
        const report = await shutdown(deadline)
        await closeOwned(deadline)
        containment?.uninstall()
        phase = 'stopped'
        report.durationMs = clock.now() - t0
        lastStop = report
        log.info(
          {
            stopped: report.stopped.length,
            failed: report.failed.length,
            durationMs: report.durationMs,
          },
          'kernel stopped',
        )
        return report
      }),
    health,
    addHealthCheck,
    stats: (): KernelStats => {
      const denials: Record<string, number> = {}
      for (const rec of records.values()) if (rec.denials > 0) denials[rec.name] = rec.denials
      return { denials, resources: resources() }
    },
  }
}

/** Component names `health()` always reports; a health check may not take them. */
const BUILT_IN_COMPONENTS: ReadonlySet<string> = new Set([
  'kernel',
  'bus',
  'services',
  'state',
  'storage',
  'plugins',
])

function checkOptions(options: CreateKernelOptions): void {
  const bad = (what: string, rule: string): never => {
    throw new CoreError('E_VALIDATION', `Invalid kernel option ${what}: ${rule}`, {
      details: { option: what },
    })
  }
  const positive = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v) && v > 0
  if (options.lifecycleTimeoutMs !== undefined) {
    const t = options.lifecycleTimeoutMs
    if (
      typeof t === 'number'
        ? !positive(t)
        : typeof t !== 'object' || !Object.values(t).every(positive)
    ) {
      bad('lifecycleTimeoutMs', 'use a positive number of milliseconds, or one per step')
    }
  }
  if (options.shutdownTimeoutMs !== undefined && !positive(options.shutdownTimeoutMs)) {
    bad('shutdownTimeoutMs', 'use a positive number of milliseconds')
  }
  for (const key of ['pluginDirs', 'plugins', 'required', 'persistState'] as const) {
    if (options[key] !== undefined && !Array.isArray(options[key])) bad(key, 'use an array')
  }
  if (options.stateBackend !== undefined && (options.persistState?.length ?? 0) > 0) {
    bad('stateBackend', 'give either stateBackend or persistState, not both')
  }
}
