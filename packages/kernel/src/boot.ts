import { CoreError } from '@core/contracts'
import { resolveDependencies } from './dependencies.js'
import { discoverCandidates } from './discovery.js'
import type { KernelState } from './kernel-state.js'
import { checkManifest, manifestError, readPluginPackage } from './manifest.js'
import { blockedBy, checkCoreApi, requiredClosure } from './plugin-graph.js'
import {
  failedRecord,
  fromInline,
  fromPackage,
  type PluginRecord,
  transition,
} from './plugin-record.js'
import { bringUp, importEntry } from './plugin-steps.js'
import type { BootReport } from './types.js'

/**
 * The boot of `kernel.start()`: restore persisted state → discover → validate manifests →
 * resolve dependencies → bring every plugin up in order. Throws what fails the boot (a
 * required plugin missing or failed, a duplicate name); optional failures go in the report.
 * @internal
 */
export async function boot(k: KernelState): Promise<BootReport> {
  const t0 = k.clock.now()
  const report: BootReport = { started: [], failed: [], skipped: [], durationMs: 0 }
  const all = await discover(k)
  for (const rec of all) {
    const first = k.records.get(rec.name)
    if (first !== undefined) {
      throw new CoreError(
        'E_PLUGIN_MANIFEST',
        `Plugin name "${rec.name}" is used twice: by ${first.path} and by ${rec.path}; remove one or rename it`,
        { details: { plugin: rec.name, paths: [first.path, rec.path] } },
      )
    }
    k.records.set(rec.name, rec)
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
  k.order = [...resolution.order, ...discoveryFailures.map((r) => r.name)]
  k.required = requiredClosure(k, k.options.required ?? [])
  for (const name of k.required) {
    if (k.records.has(name)) continue
    const hints = discoveryFailures.map((r) => `${r.path}: ${r.error?.message}`)
    throw new CoreError(
      'E_PLUGIN_DEPENDENCY',
      `Required plugin "${name}" was not found${hints.length ? `; plugins that could not be read: ${hints.join(' | ')}` : ''}; install it or remove it from "required"`,
      { details: { plugin: name, dependency: name, found: null } },
    )
  }
  for (const rec of discoveryFailures) {
    report.failed.push({ name: rec.name, step: 'discover', error: rec.error as CoreError })
    transition(k, rec, 'failed', { step: 'discover', error: rec.error as CoreError })
  }
  for (const rec of valid) {
    transition(k, rec, 'discovered')
    const problem = checkCoreApi(rec) ?? resolution.problems.get(rec.name)
    if (problem !== undefined) {
      transition(k, rec, 'failed', { step: 'resolve', error: problem })
      if (k.required.has(rec.name)) throw problem
      report.failed.push({ name: rec.name, step: 'resolve', error: problem })
    }
  }
  // Persisted state namespaces (option and manifests) are loaded before any plugin is.
  await restorePersistedState(k, valid)
  // Import every entry at once (the loader reads and compiles files concurrently); each
  // plugin's load step then awaits its own import, in order, under its timeout.
  for (const rec of valid) {
    if (rec.state === 'failed' || rec.pkg === undefined) continue
    rec.preload = importEntry(k, rec)
    rec.preload.catch(() => undefined)
  }
  for (const name of k.order) await bringUpAtBoot(k, k.records.get(name) as PluginRecord, report)
  report.durationMs = k.clock.now() - t0
  k.log.info(
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

/**
 * Loads the persisted state namespaces from storage: `persistState` of the options and the
 * names of the plugins whose manifest says `persistState: true` (those failed already at
 * resolution too, so that a later `plugins.start` finds their state). With a caller's state
 * backend there is nothing to load: the backend keeps that state.
 */
async function restorePersistedState(
  k: KernelState,
  valid: readonly PluginRecord[],
): Promise<void> {
  const declared = valid.filter((r) => r.manifest.persistState === true).map((r) => r.name)
  if (k.persistedState === undefined) {
    if (declared.length > 0)
      k.log.info(
        { plugins: declared },
        `plugins ${declared.join(', ')} ask for persisted state; the state backend given to the kernel keeps it`,
      )
    return
  }
  const namespaces = [...(k.options.persistState ?? []), ...declared]
  if (namespaces.length > 0) await k.persistedState.persist(namespaces, { state: k.state })
}

/** Every candidate as a record: from disk (read concurrently), then the inline plugins. */
async function discover(k: KernelState): Promise<PluginRecord[]> {
  const { options, schemas } = k
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
    if (error !== undefined) all.push(failedRecord(k, c.dir, c.source, error))
    else if (pkg !== undefined) all.push(fromPackage(k, pkg, c.source))
  }
  for (const spec of options.plugins ?? []) {
    if (typeof spec === 'string') continue
    const rec = fromInline(k, spec)
    const issues = checkManifest({ version: rec.version, corePlugin: rec.manifest }, schemas)
    const error = issues.length === 0 ? undefined : manifestError(rec.path, issues, rec.name)
    all.push(error === undefined ? rec : failedRecord(k, rec.path, 'inline', error))
  }
  return all
}

/** Brings one plugin up at boot, recording a skip or an optional failure in `report`. */
async function bringUpAtBoot(k: KernelState, rec: PluginRecord, report: BootReport): Promise<void> {
  const name = rec.name
  if (rec.state === 'failed') return
  const blocked = blockedBy(k, rec)
  if (blocked !== undefined) {
    rec.reason = `not started: ${blocked}`
    report.skipped.push({ name, reason: rec.reason })
    k.log.warn({ plugin: name, reason: rec.reason }, `plugin "${name}" ${rec.reason}`)
    if (k.required.has(name)) {
      throw new CoreError('E_PLUGIN_DEPENDENCY', `Required plugin "${name}" was ${rec.reason}`, {
        details: { plugin: name },
      })
    }
    return
  }
  try {
    await bringUp(k, rec)
    report.started.push(name)
  } catch (error) {
    if (k.required.has(name)) throw error
    report.failed.push({ name, step: rec.failedStep ?? 'setup', error: error as CoreError })
  }
}
