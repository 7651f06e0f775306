import { pathToFileURL } from 'node:url'
import { CoreError } from '@core/contracts'
import { DEFAULT_HUB_MODULE, type HubModuleSearch, isPath, resolveHubModule } from './hub-module.js'
import type { HubStart, HubStartOptions } from './types.js'

/**
 * What `core start` of this package's own bin tells a user when it finds no hub: what to install
 * (the hub is a package of its own, `@core/hub`, which includes this CLI).
 * @public
 */
export const HUB_INSTALL_HINT =
  'install a hub and use its `core` (in this project: npm i @core/hub, then core start; without installing: npx @core/hub start), or set CORE_HUB_MODULE to a module that exports runHub()'

/**
 * The `start` of this package's `core` bin: finds the hub module named by `CORE_HUB_MODULE`
 * (default `@core/hub`) and calls its `runHub(options)`, which boots the hub, runs it until
 * SIGINT or SIGTERM, stops it and resolves (optionally with an exit code). So this package's
 * `core start` and `@core/hub`'s own `core start` do the same, whichever of the two `core` bins
 * a project's `node_modules/.bin` ends up with.
 *
 * `@core/cli` does not depend on a hub: the module is found at run time by
 * `resolveHubModule` (hub-module.ts), first in the working directory's project (walking up from
 * `process.cwd()` to `node_modules/@core/hub`, honouring its `exports`, or the package itself),
 * then from this CLI's own location (a global install next to `@core/hub`). `CORE_HUB_MODULE`
 * may also be a file path relative to the working directory. The module must export
 * `runHub: (options: { config?: string }) => Promise<number | void>` (named, or on its default
 * export).
 *
 * @param options - `config`: the `--config` file, passed on.
 * @param env - Where `CORE_HUB_MODULE` is read. @defaultValue process.env
 * @param search - Where to look ({@link HubModuleSearch}): the working directory, then this CLI's folder.
 * @returns What `runHub` resolved with.
 * @throws {@link @core/contracts!CoreError} `E_UNAVAILABLE` when no hub module is found (the
 *   message says what to install: {@link HUB_INSTALL_HINT}), when the module cannot be loaded,
 *   or when it does not export `runHub`; whatever `runHub` throws.
 * @example
 * ```ts
 * await runCli(process.argv.slice(2), { start: startHubFromModule })
 * ```
 * @public
 */
export async function startHubFromModule(
  options: HubStartOptions,
  env: Readonly<Record<string, string | undefined>> = process.env,
  search: HubModuleSearch = {},
): ReturnType<HubStart> {
  const configured = env.CORE_HUB_MODULE?.trim() ?? ''
  const specifier = configured === '' ? DEFAULT_HUB_MODULE : configured
  const file = resolveHubModule(specifier, search)
  if (file === undefined) {
    if (configured === '') {
      throw new CoreError(
        'E_UNAVAILABLE',
        `\`core start\` needs a hub: ${HUB_INSTALL_HINT}. (${DEFAULT_HUB_MODULE} is installed neither in this project, looked for from ${search.cwd ?? process.cwd()} up, nor next to this CLI.)`,
        { details: { variable: 'CORE_HUB_MODULE' } },
      )
    }
    throw notLoadable(specifier)
  }
  const target = pathToFileURL(file).href
  let mod: Record<string, unknown>
  try {
    mod = (await import(target)) as Record<string, unknown>
  } catch (error) {
    const code = (error as { code?: unknown }).code
    // Only the hub module itself missing; a dependency missing inside it is rethrown as is.
    const missing =
      (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') &&
      [specifier, target, file].some((name) =>
        String((error as Error).message).includes(`'${name}'`),
      )
    if (!missing) throw error
    throw notLoadable(specifier, error)
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

function notLoadable(specifier: string, cause?: unknown): CoreError {
  const what = isPath(specifier) ? 'install it' : 'install it in this project'
  return new CoreError(
    'E_UNAVAILABLE',
    `\`core start\` needs a hub, and "${specifier}" (CORE_HUB_MODULE) cannot be loaded: ${what}, or ${HUB_INSTALL_HINT}`,
    { ...(cause === undefined ? {} : { cause }), details: { module: specifier } },
  )
}
