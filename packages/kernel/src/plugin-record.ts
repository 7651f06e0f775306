import { CoreError, type PluginManifest } from '@core/contracts'
import type { ContextHandle, ResourceCounts } from './context.js'
import type { KernelState } from './kernel-state.js'
import { lifecycleError, type PluginInstance } from './lifecycle.js'
import type { PluginPackage } from './manifest.js'
import type {
  InlinePlugin,
  LifecycleStep,
  PluginHooks,
  PluginInfo,
  PluginLifecycleState,
  PluginSource,
  PluginTransitionEvent,
} from './types.js'
import type { PluginWatcher } from './watcher.js'

/** What the kernel knows and holds of one plugin. @internal */
export interface PluginRecord {
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

type RecordBase = Pick<
  PluginRecord,
  'name' | 'version' | 'path' | 'source' | 'manifest' | 'pkg' | 'inline'
>

/** A fresh record in state `discovered`. @internal */
export function newRecord(k: KernelState, base: RecordBase): PluginRecord {
  return {
    ...base,
    state: 'discovered',
    error: undefined,
    failedStep: undefined,
    reason: undefined,
    reloads: 0,
    denials: 0,
    since: k.clock.now(),
    generation: 0,
    instance: undefined,
    hooks: undefined,
    handle: undefined,
    watcher: undefined,
    preload: undefined,
  }
}

/** The record of a plugin read from its package folder. @internal */
export function fromPackage(
  k: KernelState,
  pkg: PluginPackage,
  source: PluginSource,
): PluginRecord {
  return newRecord(k, {
    name: pkg.name,
    version: pkg.version,
    path: pkg.dir,
    source,
    manifest: pkg.manifest,
    pkg,
    inline: undefined,
  })
}

/** The record of an inline plugin object (its manifest's `entry` is `inline`). @internal */
export function fromInline(k: KernelState, spec: InlinePlugin): PluginRecord {
  const manifest = { entry: 'inline', ...spec.manifest } as PluginManifest
  return newRecord(k, {
    name: manifest.name,
    version: spec.version ?? '0.0.0',
    path: `inline:${manifest.name}`,
    source: 'inline',
    manifest,
    pkg: undefined,
    inline: spec,
  })
}

/** The record of a candidate that could not be read: failed at `discover`. @internal */
export function failedRecord(
  k: KernelState,
  path: string,
  source: PluginSource,
  error: CoreError,
): PluginRecord {
  const guess = error.details?.plugin
  const name = typeof guess === 'string' ? guess : (path.split(/[\\/]/).pop() ?? path)
  const rec = newRecord(k, {
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

/** Moves a plugin to `next`, logs it and publishes `core.plugin.<next>`. @internal */
export function transition(
  k: KernelState,
  rec: PluginRecord,
  next: PluginLifecycleState,
  extra: { step?: LifecycleStep; error?: CoreError; reason?: string } = {},
): void {
  const previous = rec.state
  rec.state = next
  rec.since = k.clock.now()
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
    k.log.error(
      { plugin: rec.name, step: extra.step, err: extra.error },
      extra.error?.message ?? 'plugin failed',
    )
  else k.log.debug({ plugin: rec.name, state: next, previous }, `plugin ${rec.name} ${next}`)
  k.bus
    .publish(`core.plugin.${next}`, data, { source: '/core/kernel', wait: false })
    .catch((error: unknown) => {
      k.log.warn({ err: error }, 'could not publish a plugin transition')
    })
}

/**
 * Marks a plugin failed at `step` (releasing its context) and returns the error to throw:
 * a discovery or resolution CoreError as is, anything else as `E_PLUGIN_LIFECYCLE`.
 * @internal
 */
export function fail(
  k: KernelState,
  rec: PluginRecord,
  step: LifecycleStep,
  cause: unknown,
): CoreError {
  const error =
    (step === 'discover' || step === 'resolve') && CoreError.is(cause)
      ? cause
      : lifecycleError(rec.name, step, cause)
  releaseContext(k, rec)
  transition(k, rec, 'failed', { step, error })
  return error
}

/** Closes the file watcher and releases the plugin's context, counting what it held. @internal */
export function releaseContext(k: KernelState, rec: PluginRecord): void {
  rec.watcher?.close()
  rec.watcher = undefined
  const handle = rec.handle
  if (handle === undefined) return
  const counts = handle.counts()
  handle.release()
  for (const key of Object.keys(k.released) as Array<keyof ResourceCounts>)
    k.released[key] += counts[key]
  rec.handle = undefined
  rec.hooks = undefined
}

/** Names of the plugins `rec` depends on, required and optional. @internal */
export function dependenciesOf(rec: PluginRecord): string[] {
  return [
    ...Object.keys(rec.manifest.requires ?? {}),
    ...Object.keys(rec.manifest.optionalRequires ?? {}),
  ]
}

/** The public view of a record (`kernel.plugins.get`). @internal */
export function info(k: KernelState, rec: PluginRecord): PluginInfo {
  const out: PluginInfo = {
    name: rec.name,
    version: rec.version,
    path: rec.path,
    state: rec.state,
    isolation: rec.manifest.isolation ?? 'inline',
    required: k.required.has(rec.name),
    source: rec.source,
    requires: { ...rec.manifest.requires },
    optionalRequires: { ...rec.manifest.optionalRequires },
    dependents: k.order.filter((n) => {
      const other = k.records.get(n)
      return (
        other !== undefined && other.state === 'started' && dependenciesOf(other).includes(rec.name)
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

/** The record of `name`, or `E_NOT_FOUND` listing the known plugins. @internal */
export function find(k: KernelState, name: string): PluginRecord {
  const rec = k.records.get(name)
  if (rec === undefined) {
    throw new CoreError(
      'E_NOT_FOUND',
      `No plugin "${name}"; known plugins: ${[...k.records.keys()].join(', ') || 'none'}`,
      { details: { plugin: name } },
    )
  }
  return rec
}
