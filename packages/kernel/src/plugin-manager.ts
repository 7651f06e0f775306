import { CoreError } from '@core/contracts'
import { hostFolder, resolvePluginSpec } from './discovery.js'
import { exclusive, type KernelState } from './kernel-state.js'
import { type PluginPackage, readPluginPackage } from './manifest.js'
import { blockedBy, checkDependencies, dependentsOf, refresh } from './plugin-graph.js'
import {
  fail,
  find,
  fromPackage,
  info,
  type PluginRecord,
  releaseContext,
  transition,
} from './plugin-record.js'
import { bringUp, stopStep, unloadStep } from './plugin-steps.js'
import type { PluginManager } from './types.js'

/**
 * `kernel.plugins`: list, get, and drive single plugins (start, stop, reload, load, unload)
 * while the kernel runs, one operation at a time. Stopping, reloading or unloading a plugin
 * first stops its started dependents (reverse order); a reload restarts them after.
 * @internal
 */
export function createPluginManager(k: KernelState): PluginManager {
  return {
    list: async () => k.order.map((n) => info(k, k.records.get(n) as PluginRecord)),
    get: async (name) => info(k, find(k, name)),
    start: (name) => running(k, () => start(k, name)),
    stop: (name) =>
      running(k, async () => {
        const rec = find(k, name)
        await stopDependents(k, name, `dependency "${name}" was stopped`)
        const error = await stopStep(k, rec)
        if (error !== undefined) throw error
        return info(k, rec)
      }),
    reload: (name, reloadOptions) =>
      running(k, () => reload(k, name, reloadOptions?.dependents !== false)),
    load: (path) => running(k, () => load(k, path)),
    unload: (name) =>
      running(k, async () => {
        const rec = find(k, name)
        await stopDependents(k, name, `dependency "${name}" was unloaded`)
        const stopError = await stopStep(k, rec)
        if (stopError !== undefined) throw stopError
        const error = await unloadStep(k, rec)
        if (error !== undefined) throw error
        releaseContext(k, rec)
        return info(k, rec)
      }),
  }
}

/** Plugin operations need a running kernel (not before start(), not after stop()). */
function running<T>(k: KernelState, work: () => Promise<T>): Promise<T> {
  return exclusive(k, async () => {
    if (k.phase !== 'running') {
      throw new CoreError(
        'E_UNAVAILABLE',
        `The kernel is ${k.phase}: plugins can be driven only while it runs`,
        { details: { phase: k.phase } },
      )
    }
    return work()
  })
}

async function start(k: KernelState, name: string): ReturnType<PluginManager['start']> {
  const rec = find(k, name)
  if (rec.state === 'started') return info(k, rec)
  if (rec.state === 'failed' || rec.state === 'unloaded') {
    await refresh(k, rec).catch((error: unknown) => {
      throw fail(k, rec, 'discover', error)
    })
    const problem = checkDependencies(k, rec)
    if (problem !== undefined) throw fail(k, rec, 'resolve', problem)
    if (rec.state === 'failed') {
      rec.instance = undefined
      rec.generation++
      transition(k, rec, 'discovered')
    } else rec.generation++
  }
  const blocked = blockedBy(k, rec)
  if (blocked !== undefined) {
    throw new CoreError(
      'E_PLUGIN_DEPENDENCY',
      `Cannot start plugin "${name}": ${blocked}; start it first`,
      { details: { plugin: name } },
    )
  }
  await bringUp(k, rec)
  return info(k, rec)
}

async function reload(
  k: KernelState,
  name: string,
  withDependents: boolean,
): ReturnType<PluginManager['reload']> {
  const rec = find(k, name)
  const dependents = withDependents
    ? await stopDependents(k, name, `dependency "${name}" is reloading`)
    : []
  await stopStep(k, rec)
  await unloadStep(k, rec)
  if (rec.state === 'failed') releaseContext(k, rec)
  try {
    await refresh(k, rec)
  } catch (error) {
    throw fail(k, rec, 'discover', error)
  }
  const problem = checkDependencies(k, rec)
  if (problem !== undefined) throw fail(k, rec, 'resolve', problem)
  rec.generation++
  rec.reloads++
  rec.instance = undefined
  transition(k, rec, 'discovered')
  const blocked = blockedBy(k, rec)
  if (blocked !== undefined) {
    rec.reason = `not started: ${blocked}`
    throw new CoreError('E_PLUGIN_DEPENDENCY', `Cannot restart plugin "${name}": ${blocked}`, {
      details: { plugin: name },
    })
  }
  try {
    await bringUp(k, rec)
  } catch (error) {
    for (const d of dependents)
      (k.records.get(d) as PluginRecord).reason =
        `not restarted: dependency "${name}" failed to reload`
    throw error
  }
  await restartDependents(k, dependents)
  return info(k, rec)
}

async function load(k: KernelState, path: string): ReturnType<PluginManager['load']> {
  const host = k.options.hostPackage
  const dir = resolvePluginSpec(path, host === undefined ? process.cwd() : hostFolder(host))
  const pkg = (await readPluginPackage(dir, k.schemas)) as PluginPackage
  const existing = k.records.get(pkg.name)
  if (existing !== undefined) {
    if (existing.state !== 'unloaded' && existing.state !== 'failed') {
      throw new CoreError(
        'E_PLUGIN_MANIFEST',
        `Plugin name "${pkg.name}" is used twice: by ${existing.path} (${existing.state}) and by ${pkg.dir}; unload the first or rename one`,
        { details: { plugin: pkg.name, paths: [existing.path, pkg.dir] } },
      )
    }
    releaseContext(k, existing)
  }
  const rec = fromPackage(k, pkg, 'load')
  if (existing !== undefined) rec.generation = existing.generation + 1
  k.records.set(rec.name, rec)
  if (!k.order.includes(rec.name)) k.order.push(rec.name)
  transition(k, rec, 'discovered')
  const problem = checkDependencies(k, rec)
  if (problem !== undefined) throw fail(k, rec, 'resolve', problem)
  const blocked = blockedBy(k, rec)
  if (blocked !== undefined) {
    rec.reason = `not started: ${blocked}`
    throw new CoreError('E_PLUGIN_DEPENDENCY', `Cannot start plugin "${rec.name}": ${blocked}`, {
      details: { plugin: rec.name },
    })
  }
  await bringUp(k, rec)
  return info(k, rec)
}

/** Stops the started dependents of `name` (last first), recording `reason`; returns them. */
async function stopDependents(k: KernelState, name: string, reason: string): Promise<string[]> {
  const dependents = dependentsOf(k, name)
  for (const d of [...dependents].reverse()) {
    const rec = k.records.get(d) as PluginRecord
    await stopStep(k, rec)
    if (rec.state === 'stopped') rec.reason = reason
  }
  return dependents
}

async function restartDependents(k: KernelState, dependents: readonly string[]): Promise<void> {
  for (const d of dependents) {
    const rec = k.records.get(d) as PluginRecord
    const blocked = blockedBy(k, rec)
    if (blocked !== undefined) {
      rec.reason = `not restarted: ${blocked}`
      continue
    }
    await bringUp(k, rec).catch(() => undefined)
  }
}
