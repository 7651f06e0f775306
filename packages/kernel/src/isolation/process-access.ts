import { readFile, realpath, stat } from 'node:fs/promises'
import { dirname, join } from 'node:path'

/**
 * What a `process` plugin may touch: the Node permission-model flag, the folders it may read
 * and the environment it gets.
 * @internal
 */

/** The permission-model flag of this Node: `--permission` (≥ 22), `--experimental-permission` (20), or none. @internal */
export function permissionFlag(
  flags: ReadonlySet<string> = process.allowedNodeEnvironmentFlags,
): '--permission' | '--experimental-permission' | undefined {
  if (flags.has('--permission')) return '--permission'
  if (flags.has('--experimental-permission')) return '--experimental-permission'
  return undefined
}

/** Environment variables a plugin process gets from the hub, when set (nothing else). @internal */
export const PASSED_ENV: readonly string[] = ['NODE_ENV', 'TZ', 'LANG', 'LC_ALL']

/**
 * The whole environment of a plugin process: {@link PASSED_ENV} from the hub's and
 * `CORE_PLUGIN_DATA_DIR` (its writable folder). No `PATH`, no `NODE_OPTIONS` (it could widen
 * the permissions), none of the hub's `CORE_*` settings or secrets.
 * @internal
 */
export function processEnv(
  dataDir: string,
  env: NodeJS.ProcessEnv = process.env,
): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {}
  for (const k of PASSED_ENV) if (env[k] !== undefined) out[k] = env[k]
  out.CORE_PLUGIN_DATA_DIR = dataDir
  return out
}

/** At most this many packages are granted to one plugin (a runaway dependency tree). */
const MAX_PACKAGES = 2_000

/**
 * The folders a plugin process may read: its package folder (and its real path) and every
 * package it depends on (`dependencies`, `optionalDependencies`, `peerDependencies`,
 * transitively), found as Node finds them (`node_modules` of the folder and its parents) and
 * granted at their real path (pnpm links them into its store). Nothing else: not the hub's
 * own packages, data or configuration.
 * @internal
 */
export async function readableFolders(pluginDir: string): Promise<string[]> {
  const out = new Set<string>([pluginDir])
  const seen = new Set<string>()
  const queue = [await realpath(pluginDir).catch(() => pluginDir)]
  while (queue.length > 0 && seen.size < MAX_PACKAGES) {
    const dir = queue.shift() as string
    if (seen.has(dir)) continue
    seen.add(dir)
    out.add(dir)
    for (const dep of await dependencyNames(dir)) {
      const found = await findPackage(dir, dep)
      if (found === undefined) continue
      out.add(found.path) // Node reads the package.json at the path it looked up
      if (!seen.has(found.real)) queue.push(found.real)
    }
  }
  return [...out]
}

async function dependencyNames(dir: string): Promise<string[]> {
  try {
    const pkg = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as Record<
      string,
      unknown
    >
    const names = new Set<string>()
    for (const field of ['dependencies', 'optionalDependencies', 'peerDependencies']) {
      const deps = pkg[field]
      if (typeof deps === 'object' && deps !== null) for (const n of Object.keys(deps)) names.add(n)
    }
    return [...names]
  } catch {
    return []
  }
}

/** Node's lookup: `<dir>/node_modules/<name>`, then the parents'; the real path of the first found. */
async function findPackage(
  from: string,
  name: string,
): Promise<{ path: string; real: string } | undefined> {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name)
    const isDir = await stat(candidate).then(
      (s) => s.isDirectory(),
      () => false,
    )
    if (isDir) return { path: candidate, real: await realpath(candidate) }
    if (dirname(dir) === dir) return undefined
  }
}
