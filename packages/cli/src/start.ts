import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { CoreError } from '@core/contracts'
import type { HubStart, HubStartOptions } from './types.js'

/**
 * What `core start` of this package's own bin tells a user who has no hub module configured:
 * the hub is a package of its own, with its own `core` bin that has `start` built in.
 * @public
 */
export const HUB_INSTALL_HINT =
  'install a hub and use its `core` (npm i -g @core/hub && core start, or npx @core/hub start), or set CORE_HUB_MODULE to a module that exports runHub()'

/**
 * The `start` of this package's `core` bin: imports the hub module named by `CORE_HUB_MODULE`
 * and calls its `runHub(options)`, which boots the hub, runs it until SIGINT or SIGTERM, stops
 * it and resolves (optionally with an exit code).
 *
 * `@core/cli` depends on no hub: a hub app depends on `@core/cli` and ships its own `core` bin
 * with `start` built in (`runCli(argv, { start: runHub })`, as `@core/hub` does). This function
 * is for the other way round, a globally installed `@core/cli` pointed at a hub:
 * `CORE_HUB_MODULE` is a package name (resolved from this package's location or, when the
 * working directory is that package itself, through Node's package self-reference) or a file
 * path relative to the working directory. The module must export
 * `runHub: (options: { config?: string }) => Promise<number | void>` (named, or on its default
 * export).
 *
 * @param options - `config`: the `--config` file, passed on.
 * @param env - Where `CORE_HUB_MODULE` is read. @defaultValue process.env
 * @returns What `runHub` resolved with.
 * @throws {@link @core/contracts!CoreError} `E_UNAVAILABLE` when `CORE_HUB_MODULE` is not set
 *   (the message says what to install), names a module that is not installed, or one that does
 *   not export `runHub`; whatever `runHub` throws.
 * @example
 * ```ts
 * await runCli(process.argv.slice(2), { start: startHubFromModule })
 * ```
 * @public
 */
export async function startHubFromModule(
  options: HubStartOptions,
  env: Readonly<Record<string, string | undefined>> = process.env,
): ReturnType<HubStart> {
  const specifier = env.CORE_HUB_MODULE?.trim() ?? ''
  if (specifier === '') {
    throw new CoreError('E_UNAVAILABLE', `\`core start\` needs a hub: ${HUB_INSTALL_HINT}`, {
      details: { variable: 'CORE_HUB_MODULE' },
    })
  }
  const filePath = isPath(specifier) ? resolve(specifier) : undefined
  const target = filePath === undefined ? specifier : pathToFileURL(filePath).href
  let mod: Record<string, unknown>
  try {
    mod = await importHub(target, filePath === undefined ? specifier : undefined)
  } catch (error) {
    const code = (error as { code?: unknown }).code
    // Only the hub module itself missing; a dependency missing inside it is rethrown as is.
    const missing =
      (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') &&
      [specifier, target, filePath].some(
        (name) => name !== undefined && String((error as Error).message).includes(`'${name}'`),
      )
    if (!missing) throw error
    throw new CoreError(
      'E_UNAVAILABLE',
      `\`core start\` needs a hub, and "${specifier}" (CORE_HUB_MODULE) cannot be loaded: install it, or ${HUB_INSTALL_HINT}`,
      { cause: error, details: { module: specifier } },
    )
  }
  const runHub = mod.runHub ?? (mod.default as { runHub?: unknown } | undefined)?.runHub
  if (typeof runHub !== 'function') {
    throw new CoreError(
      'E_UNAVAILABLE',
      `"${specifier}" does not export runHub(options): it is not a hub module \`core start\` can run`,
      { details: { module: specifier } },
    )
  }
  return (runHub as HubStart)(options)
}

/**
 * Imports `target`; when it is a package name that cannot be found from here and the working
 * directory is that very package (e.g. `pnpm --filter @core/hub exec core start`), imports it
 * through Node's package self-reference instead.
 */
async function importHub(
  target: string,
  packageName: string | undefined,
): Promise<Record<string, unknown>> {
  try {
    return (await import(target)) as Record<string, unknown>
  } catch (error) {
    if (packageName === undefined) throw error
    const manifest = join(process.cwd(), 'package.json')
    let resolved: string
    try {
      const { name } = JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown }
      if (name !== packageName) throw error
      resolved = createRequire(manifest).resolve(packageName)
    } catch {
      throw error
    }
    return (await import(pathToFileURL(resolved).href)) as Record<string, unknown>
  }
}

/** A file path rather than a package name: `./x`, `../x`, `/x`, `C:\\x`. */
function isPath(specifier: string): boolean {
  return specifier.startsWith('.') || specifier.startsWith('/') || /^[A-Za-z]:[\\/]/.test(specifier)
}
