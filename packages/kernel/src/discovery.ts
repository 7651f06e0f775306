import { existsSync, statSync } from 'node:fs'
import { readdir, readFile } from 'node:fs/promises'
import { basename, dirname, isAbsolute, join, resolve } from 'node:path'
import { CoreError } from '@core/contracts'
import type { PluginSource } from './types.js'

/** A place where a plugin package may be. @internal */
export interface Candidate {
  /** Folder of the package. */
  dir: string
  source: PluginSource
  /** True for host dependencies: a package without `corePlugin` is not a plugin, silently. */
  optional: boolean
}

/** What the discovery options name. @internal */
export interface DiscoveryOptions {
  hostPackage?: string | undefined
  pluginDirs?: readonly string[] | undefined
  plugins?: readonly string[] | undefined
}

/**
 * Lists plugin candidates, in this order: (a) the host package's `dependencies` and
 * `optionalDependencies`, each resolved from node_modules as Node does (the host's folder,
 * then each parent's `node_modules`); (b) each subfolder holding a package.json in every
 * plugin folder; (c) the explicit list (a folder, a package.json path, or a package name
 * resolved from the host's folder or the working directory). Duplicated folders are listed once.
 * @throws {@link @core/contracts!CoreError} `E_NOT_FOUND` for a missing host package.json, plugin folder or
 *   explicit plugin.
 * @throws {@link @core/contracts!CoreError} `E_PLUGIN_MANIFEST` for a malformed host package.json.
 * @internal
 */
export async function discoverCandidates(options: DiscoveryOptions): Promise<Candidate[]> {
  const out: Candidate[] = []
  const seen = new Set<string>()
  const add = (dir: string, source: PluginSource, optional: boolean): void => {
    if (seen.has(dir)) return
    seen.add(dir)
    out.push({ dir, source, optional })
  }
  const hostDir =
    options.hostPackage === undefined ? process.cwd() : hostFolder(options.hostPackage)

  if (options.hostPackage !== undefined) {
    const file = join(hostDir, 'package.json')
    let text: string
    try {
      text = await readFile(file, 'utf8')
    } catch (cause) {
      throw new CoreError(
        'E_NOT_FOUND',
        `Host package.json not found at ${file}; fix the hostPackage option`,
        {
          cause,
          details: { path: file },
        },
      )
    }
    let pkg: {
      dependencies?: Record<string, string>
      optionalDependencies?: Record<string, string>
    }
    try {
      pkg = JSON.parse(text)
    } catch (cause) {
      throw new CoreError(
        'E_PLUGIN_MANIFEST',
        `Malformed host package.json at ${file}: ${(cause as Error).message}`,
        {
          cause,
          details: { path: file },
        },
      )
    }
    const names = [
      ...Object.keys(pkg.dependencies ?? {}),
      ...Object.keys(pkg.optionalDependencies ?? {}),
    ]
    for (const name of names) {
      const dir = findPackageDir(name, hostDir)
      if (dir !== undefined) add(dir, 'host', true)
    }
  }

  for (const folder of options.pluginDirs ?? []) {
    const abs = resolve(folder)
    let entries: Array<{ name: string; isDirectory(): boolean; isSymbolicLink(): boolean }>
    try {
      entries = await readdir(abs, { withFileTypes: true })
    } catch (cause) {
      throw new CoreError(
        'E_NOT_FOUND',
        `Plugin folder ${abs} cannot be read; create it or remove it from pluginDirs`,
        {
          cause,
          details: { path: abs },
        },
      )
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    for (const entry of entries) {
      if (!entry.isDirectory() && !entry.isSymbolicLink()) continue
      const dir = join(abs, entry.name)
      if (existsSync(join(dir, 'package.json'))) add(dir, 'dir', false)
    }
  }

  for (const spec of options.plugins ?? []) add(resolvePluginSpec(spec, hostDir), 'explicit', false)
  return out
}

/**
 * A plugin named by path (a folder or a package.json) or by package name.
 * @throws {@link @core/contracts!CoreError} `E_NOT_FOUND` when it is neither.
 * @internal
 */
export function resolvePluginSpec(spec: string, hostDir: string = process.cwd()): string {
  const looksLikePath = isAbsolute(spec) || spec.startsWith('.') || spec.includes('\\')
  const asPath = resolve(spec)
  if (existsSync(asPath)) return basename(asPath) === 'package.json' ? dirname(asPath) : asPath
  if (!looksLikePath) {
    const dir = findPackageDir(spec, hostDir)
    if (dir !== undefined) return dir
  }
  throw new CoreError(
    'E_NOT_FOUND',
    `Plugin "${spec}" not found: no folder at ${asPath} and no installed package "${spec}" reachable from ${hostDir}`,
    { details: { plugin: spec, path: asPath } },
  )
}

/** The folder of the host package (`hostPackage` may name its package.json or its folder). @internal */
export function hostFolder(hostPackage: string): string {
  const abs = resolve(hostPackage)
  if (basename(abs) === 'package.json') return dirname(abs)
  if (existsSync(abs) && statSync(abs).isFile()) return dirname(abs)
  return abs
}

/** Node's package lookup: `<dir>/node_modules/<name>` from `from` up to the root. */
function findPackageDir(name: string, from: string): string | undefined {
  let dir = from
  for (;;) {
    const candidate = join(dir, 'node_modules', name)
    if (existsSync(join(candidate, 'package.json'))) return candidate
    const parent = dirname(dir)
    if (parent === dir) return undefined
    dir = parent
  }
}
