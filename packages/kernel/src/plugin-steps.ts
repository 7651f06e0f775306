import { pathToFileURL } from 'node:url'
import { CoreError, deepFreeze } from '@core/contracts'
import { runPluginMigrations } from '@core/storage'
import { createScopedContext } from './context.js'
import type { KernelState } from './kernel-state.js'
import { type PluginInstance, stepTimeout, toPluginInstance, withTimeout } from './lifecycle.js'
import type { PluginPackage } from './manifest.js'
import { PermissionChecker } from './permissions.js'
import { fail, type PluginRecord, releaseContext, transition } from './plugin-record.js'
import { securityDenied } from './policy.js'
import type { LifecycleStep } from './types.js'
import { watchPlugin } from './watcher.js'

// The lifecycle steps of one plugin, each under its timeout:
// load (import) → migrate + setup(ctx) → start() … stop() → unload().

/** The timeout of `step`, in ms (`lifecycleTimeoutMs`, one number or per step). @internal */
export function timeout(k: KernelState, step: LifecycleStep): number {
  return stepTimeout(k.options.lifecycleTimeoutMs, step)
}

/** Runs a lifecycle step under its timeout, watched by the stall watchdog when there is one. */
async function watched<T>(
  k: KernelState,
  rec: PluginRecord,
  step: LifecycleStep,
  what: string,
  work: () => T | Promise<T>,
  limitMs?: number,
): Promise<T> {
  const ms = Math.min(timeout(k, step), limitMs ?? Number.POSITIVE_INFINITY)
  k.containment?.stepStarted(rec.name, step, ms)
  try {
    return await withTimeout(k.clock, ms, what, work)
  } finally {
    k.containment?.stepEnded()
  }
}

/**
 * Imports a disk plugin's entry; a new generation gets a fresh module instance
 * (cache-busting query). @internal
 */
export function importEntry(k: KernelState, rec: PluginRecord): Promise<Record<string, unknown>> {
  if (k.isolation.isolated(rec.manifest)) return k.isolation.load(rec.name, rec.manifest, rec.pkg)
  const url = pathToFileURL((rec.pkg as PluginPackage).entryPath).href
  const specifier = rec.generation === 0 ? url : `${url}?core-reload=${rec.generation}`
  return import(specifier) as Promise<Record<string, unknown>>
}

async function load(k: KernelState, rec: PluginRecord): Promise<void> {
  try {
    if (rec.inline !== undefined) {
      // An inline object asking for `worker` is refused (it has no module a worker could import).
      if (k.isolation.isolated(rec.manifest))
        await k.isolation.load(rec.name, rec.manifest, undefined)
      rec.instance = toPluginInstance(
        { default: rec.inline.plugin, migrations: rec.inline.migrations },
        rec.path,
      )
    } else {
      const pkg = rec.pkg as PluginPackage
      const pending = rec.preload ?? importEntry(k, rec)
      rec.preload = undefined
      const mod = await withTimeout(
        k.clock,
        timeout(k, 'load'),
        `Importing ${pkg.entryPath}`,
        () => pending,
      )
      rec.instance = toPluginInstance(mod, pkg.entryPath)
    }
  } catch (error) {
    throw fail(k, rec, 'load', error)
  }
  transition(k, rec, 'loaded')
}

async function setup(k: KernelState, rec: PluginRecord): Promise<void> {
  const instance = rec.instance as PluginInstance
  let step: LifecycleStep = 'migrate'
  try {
    if (rec.manifest.storage !== undefined) {
      const version = rec.manifest.storage.version
      await withTimeout(
        k.clock,
        timeout(k, 'migrate'),
        `Migrating the data of plugin "${rec.name}"`,
        () =>
          runPluginMigrations(k.storage, rec.name, {
            version,
            migrations: instance.migrations as Record<number, never> | undefined,
          }),
      )
    }
    step = 'setup'
    // A plugin loaded or reloaded after boot gets its persisted state namespace loaded here.
    if (rec.manifest.persistState === true)
      await k.persistedState?.persist([rec.name], { state: k.state })
    const config = validateConfig(k, rec)
    const handle = createScopedContext({
      name: rec.name,
      version: rec.version,
      manifest: rec.manifest,
      config,
      bus: k.bus,
      services: k.services,
      state: k.state,
      storage: k.storage,
      clock: k.clock,
      logger: k.logger.child({ plugin: rec.name }),
      permissions: new PermissionChecker(rec.name, rec.manifest.permissions, k.policy),
      onDenied: (error) => {
        rec.denials++
        k.security.report(securityDenied(rec.name, error))
      },
    })
    rec.handle = handle
    await watched(k, rec, 'setup', `setup() of plugin "${rec.name}"`, async () => {
      const hooks = instance.create ? await instance.create(handle.ctx) : instance.hooks
      // A setup abandoned after its timeout must not overwrite the hooks of a later load.
      if (rec.handle === handle) rec.hooks = hooks
      await hooks.setup?.(handle.ctx)
    })
  } catch (error) {
    throw fail(k, rec, step, error)
  }
  transition(k, rec, 'setup')
}

async function startStep(k: KernelState, rec: PluginRecord): Promise<void> {
  rec.handle?.renew()
  try {
    await watched(k, rec, 'start', `start() of plugin "${rec.name}"`, () => rec.hooks?.start?.())
  } catch (error) {
    throw fail(k, rec, 'start', error)
  }
  transition(k, rec, 'started')
  const watch = k.options.watch
  if (watch && rec.pkg !== undefined && rec.watcher === undefined) {
    const debounceMs = typeof watch === 'object' ? watch.debounceMs : undefined
    rec.watcher = watchPlugin(rec.pkg.dir, debounceMs, () => {
      k.log.info({ plugin: rec.name }, `files of plugin "${rec.name}" changed: reloading`)
      k.onFilesChanged(rec.name)
    })
  }
}

/** discovered/unloaded/failed → started; throws the plugin's error. @internal */
export async function bringUp(k: KernelState, rec: PluginRecord): Promise<void> {
  if (rec.state === 'started') return
  if (rec.state === 'stopped') return startStep(k, rec)
  if (rec.state !== 'setup') {
    if (rec.state !== 'loaded') await load(k, rec)
    await setup(k, rec)
  }
  await startStep(k, rec)
}

/**
 * started → stopped. Returns the error instead of throwing (the plugin is marked failed).
 * @internal
 */
export async function stopStep(
  k: KernelState,
  rec: PluginRecord,
  limitMs?: number,
): Promise<CoreError | undefined> {
  if (rec.state !== 'started') return undefined
  rec.handle?.abort(new CoreError('E_CANCELLED', `Plugin "${rec.name}" is stopping`))
  try {
    await watched(
      k,
      rec,
      'stop',
      `stop() of plugin "${rec.name}"`,
      () => rec.hooks?.stop?.(),
      limitMs,
    )
  } catch (error) {
    return fail(k, rec, 'stop', error)
  }
  transition(k, rec, 'stopped')
  return undefined
}

/** setup/stopped/loaded → unloaded, releasing the context. @internal */
export async function unloadStep(
  k: KernelState,
  rec: PluginRecord,
  limitMs?: number,
): Promise<CoreError | undefined> {
  if (rec.state !== 'setup' && rec.state !== 'stopped' && rec.state !== 'loaded') return undefined
  try {
    await withTimeout(
      k.clock,
      Math.min(timeout(k, 'unload'), limitMs ?? Number.POSITIVE_INFINITY),
      `unload() of plugin "${rec.name}"`,
      () => rec.hooks?.unload?.(),
    )
  } catch (error) {
    return fail(k, rec, 'unload', error)
  }
  releaseContext(k, rec)
  rec.instance = undefined
  transition(k, rec, 'unloaded')
  return undefined
}

/** The plugin's config (`options.config[name]`), checked against its schema and frozen. */
function validateConfig(k: KernelState, rec: PluginRecord): Readonly<Record<string, unknown>> {
  const given = k.options.config?.[rec.name]
  const value = structuredClone(given ?? {}) as Record<string, unknown>
  if (rec.manifest.config !== undefined) {
    const validate = k.schemas.compile(rec.manifest.config)
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
