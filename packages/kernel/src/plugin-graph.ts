import { CoreError } from '@core/contracts'
import semver from 'semver'
import { resolveDependencies } from './dependencies.js'
import type { KernelState } from './kernel-state.js'
import { CORE_API_VERSION, type PluginPackage, readPluginPackage } from './manifest.js'
import { dependenciesOf, type PluginRecord } from './plugin-record.js'

/** `E_PLUGIN_DEPENDENCY` when the plugin's `coreApi` range does not admit this kernel. @internal */
export function checkCoreApi(rec: PluginRecord): CoreError | undefined {
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

/** Re-reads a disk plugin's package.json (its manifest may have changed). @internal */
export async function refresh(k: KernelState, rec: PluginRecord): Promise<void> {
  if (rec.inline !== undefined) return
  // A plugin that failed at discovery has no package yet: read it from its folder again.
  const pkg = (await readPluginPackage(rec.pkg?.dir ?? rec.path, k.schemas)) as PluginPackage
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

/** Checks a plugin's dependencies against the plugins known now. @internal */
export function checkDependencies(k: KernelState, rec: PluginRecord): CoreError | undefined {
  const api = checkCoreApi(rec)
  if (api) return api
  const available = new Map<string, string>()
  for (const other of k.records.values())
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

/**
 * Started plugins that depend (required or optional), directly or not, on `name`; in start
 * order. @internal
 */
export function dependentsOf(k: KernelState, name: string): string[] {
  const hit = new Set<string>([name])
  const out: string[] = []
  for (const other of k.order) {
    const rec = k.records.get(other)
    if (rec === undefined || hit.has(other)) continue
    if (dependenciesOf(rec).some((d) => hit.has(d))) {
      hit.add(other)
      if (rec.state === 'started') out.push(other)
    }
  }
  return out
}

/** Why the plugin cannot start now (a required dependency not started), or `undefined`. @internal */
export function blockedBy(k: KernelState, rec: PluginRecord): string | undefined {
  for (const dep of Object.keys(rec.manifest.requires ?? {})) {
    const d = k.records.get(dep)
    if (d?.state !== 'started')
      return `dependency "${dep}" is ${d === undefined ? 'missing' : d.state}`
  }
  return undefined
}

/** `names` and every plugin they require, directly or not. @internal */
export function requiredClosure(k: KernelState, names: readonly string[]): Set<string> {
  const out = new Set<string>()
  const visit = (name: string): void => {
    if (out.has(name)) return
    out.add(name)
    for (const dep of Object.keys(k.records.get(name)?.manifest.requires ?? {})) visit(dep)
  }
  for (const n of names) visit(n)
  return out
}
