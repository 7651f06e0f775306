import { existsSync, readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { CoreError } from '@core/contracts'
import { exports as exportsOf, legacy } from 'resolve.exports'

/**
 * The hub module `core start` runs when `CORE_HUB_MODULE` is not set.
 * @public
 */
export const DEFAULT_HUB_MODULE = '@core/hub'

/**
 * Where `core start` looks for the hub module (`startHubFromModule`'s `search`). Both optional.
 * @public
 */
export interface HubModuleSearch {
  /** The project to look in first (its folder and every parent). @defaultValue process.cwd() */
  cwd?: string
  /** This CLI's own folder, looked in second. @defaultValue the folder of this module */
  cliDir?: string
}

/**
 * Finds the file of the hub module `specifier` names, the way `import()` would from the user's
 * project: a file path (`./x.js`, `/x.js`) is taken relative to `cwd`; a package name
 * (`@core/hub`, or a subpath such as `@acme/hub/start`) is looked up
 *
 * 1. from the working directory's project: in `cwd` and each parent, the package itself (Node's
 *    package self-reference, when that folder's `package.json` has this name) or
 *    `node_modules/<name>`;
 * 2. then from this CLI's own location, the same way (covers `@core/cli` and `@core/hub`
 *    installed globally side by side).
 *
 * The entry is chosen as Node's ESM resolver does: the package's `exports` with the `import`,
 * `node` and `default` conditions, or `main` (then `index.js`) when it has no `exports`.
 *
 * @param specifier - A package name, a package subpath, or a file path.
 * @param search - Where to look ({@link HubModuleSearch}).
 * @returns The absolute path of the module file, or `undefined` when no such package is found
 *   (a file path is returned whether or not the file exists: `import()` reports that).
 * @throws {@link @core/contracts!CoreError} `E_UNAVAILABLE` when the package is found but its
 *   `exports` do not export that entry for `import`.
 * @public
 */
export function resolveHubModule(
  specifier: string,
  search: HubModuleSearch = {},
): string | undefined {
  const cwd = search.cwd ?? process.cwd()
  if (isPath(specifier)) return resolve(cwd, specifier)
  const cliDir = search.cliDir ?? dirname(fileURLToPath(import.meta.url))
  const { name, entry } = splitSpecifier(specifier)
  for (const start of [cwd, cliDir]) {
    for (const dir of ancestors(resolve(start))) {
      const self = readManifest(dir)
      if (self?.name === name) return entryFile(dir, self, entry, specifier)
      const pkgDir = join(dir, 'node_modules', ...name.split('/'))
      const manifest = readManifest(pkgDir)
      if (manifest !== undefined) return entryFile(pkgDir, manifest, entry, specifier)
    }
  }
  return undefined
}

/** A file path rather than a package name: `./x`, `../x`, `/x`, `C:\\x`. */
export function isPath(specifier: string): boolean {
  return specifier.startsWith('.') || specifier.startsWith('/') || /^[A-Za-z]:[\\/]/.test(specifier)
}

type Manifest = Record<string, unknown> & { name?: unknown }

function readManifest(dir: string): Manifest | undefined {
  const file = join(dir, 'package.json')
  if (!existsSync(file)) return undefined
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Manifest
  } catch {
    return undefined
  }
}

/** `@scope/name/sub/path` → `{ name: '@scope/name', entry: './sub/path' }`. */
function splitSpecifier(specifier: string): { name: string; entry: string } {
  const parts = specifier.split('/')
  const size = specifier.startsWith('@') ? 2 : 1
  const rest = parts.slice(size).join('/')
  return { name: parts.slice(0, size).join('/'), entry: rest === '' ? '.' : `./${rest}` }
}

function* ancestors(dir: string): Generator<string> {
  let current = dir
  for (;;) {
    yield current
    const parent = dirname(current)
    if (parent === current) return
    current = parent
  }
}

function entryFile(dir: string, manifest: Manifest, entry: string, specifier: string): string {
  if (manifest.exports === undefined) {
    if (entry !== '.') return join(dir, entry)
    return join(dir, legacy(manifest, { browser: false }) ?? 'index.js')
  }
  let targets: string[] | undefined
  try {
    targets = exportsOf(manifest, entry) ?? undefined
  } catch (error) {
    throw new CoreError(
      'E_UNAVAILABLE',
      `"${specifier}" is installed at ${dir}, but its package.json "exports" has no "${entry}" entry for import: check CORE_HUB_MODULE or reinstall the hub`,
      { cause: error, details: { module: specifier, dir } },
    )
  }
  return join(dir, targets?.[0] ?? 'index.js')
}
