import { readFile } from 'node:fs/promises'
import { isAbsolute, join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { CoreError, type PluginManifest } from '@core/contracts'
import type {
  InlinePlugin,
  PluginContext,
  PluginExport,
  PluginHooks,
  PluginMigrations,
} from '@core/kernel'

/**
 * A plugin given to the mock hub, in one of three forms:
 *
 * - an `InlinePlugin` of `@core/kernel`: `{ manifest, version?, plugin, migrations? }`;
 * - a plugin package folder (a path or `file:` URL): its package.json `corePlugin` manifest
 *   and `version` are read and its entry module is imported;
 * - `{ packageDir, plugin }`: the manifest and version from the folder's package.json, the
 *   implementation given in code (typically imported from the plugin's TypeScript source, so
 *   tests need no build).
 *
 * Isolation: a package folder whose manifest says `isolation: "worker"` runs in a worker, and
 * one that says `"process"` in a child process under Node's permission model, as in the hub
 * (its built entry is imported there; `hub.as(name)` is not available for it, and its `ctx`
 * timers run on real time, not the fake clock). `{ packageDir, isolation: "inline" }`
 * runs it inline instead; an implementation given in code (`plugin`) always runs inline.
 * @public
 */
export type MockPlugin =
  | InlinePlugin
  | string
  | URL
  | {
      /** The plugin package folder (path or `file:` URL) holding its package.json. */
      packageDir: string | URL
      /**
       * The implementation (a hooks object, a class or a setup function with any config type);
       * when absent, the manifest's `entry` is imported.
       */
      plugin?: PluginExport<never> | PluginExport | ((ctx: never) => unknown)
      /** Plugin-data migrations, when not on `plugin`. */
      migrations?: PluginMigrations
      /**
       * Run it `inline` whatever its manifest says, or as its manifest says (`worker` runs it
       * in a worker, `process` in a child process; needs no `plugin`, the entry is imported
       * there).
       * @defaultValue the manifest's `isolation` when no `plugin` is given, else `inline`
       */
      isolation?: 'inline' | 'manifest'
    }

/** Receives each plugin's context when the kernel sets the plugin up. @internal */
export type ContextSink = (ctx: PluginContext<unknown>) => void

/**
 * Turns a {@link MockPlugin} into an `InlinePlugin` whose implementation hands its `ctx` to
 * `sink` before the plugin's own code runs.
 * @internal
 */
export async function toKernelPlugin(
  spec: MockPlugin,
  sink: ContextSink,
): Promise<{ name: string; plugin: InlinePlugin | string }> {
  if (typeof spec === 'string' || spec instanceof URL || 'packageDir' in spec) {
    const dir = typeof spec === 'string' || spec instanceof URL ? spec : spec.packageDir
    const given = typeof spec === 'object' && 'packageDir' in spec ? spec : undefined
    const folder = dir instanceof URL || dir.startsWith('file:') ? fileURLToPath(dir) : resolve(dir)
    const { manifest } = await readPackage(folder)
    const isolated = manifest.isolation !== undefined && manifest.isolation !== 'inline'
    if (isolated && given?.plugin === undefined && given?.isolation !== 'inline')
      return { name: manifest.name, plugin: folder }
    const inline = await fromFolder(folder, given?.plugin, given?.migrations)
    return { name: manifest.name, plugin: capture(inline, sink) }
  }
  const inline = await toInlinePlugin(spec, sink)
  return { name: inline.manifest.name, plugin: inline }
}

/**
 * Turns a {@link MockPlugin} into an `InlinePlugin` whose implementation hands its `ctx` to
 * `sink` before the plugin's own code runs (a folder's manifest `isolation` is dropped).
 * @internal
 */
export async function toInlinePlugin(spec: MockPlugin, sink: ContextSink): Promise<InlinePlugin> {
  if (typeof spec === 'string' || spec instanceof URL)
    return capture(await fromFolder(spec, undefined, undefined), sink)
  if ('packageDir' in spec)
    return capture(await fromFolder(spec.packageDir, spec.plugin, spec.migrations), sink)
  if (
    typeof spec !== 'object' ||
    spec === null ||
    typeof spec.manifest !== 'object' ||
    spec.manifest === null
  ) {
    throw new CoreError(
      'E_VALIDATION',
      'A mock hub plugin must be a package folder, { packageDir, plugin? } or { manifest, plugin } (an InlinePlugin)',
      { details: { plugin: typeof spec } },
    )
  }
  return capture(spec, sink)
}

async function fromFolder(
  dir: string | URL,
  plugin: PluginExport<never> | PluginExport | ((ctx: never) => unknown) | undefined,
  migrations: PluginMigrations | undefined,
): Promise<InlinePlugin> {
  const folder = dir instanceof URL || dir.startsWith('file:') ? fileURLToPath(dir) : resolve(dir)
  const { file, pkg, manifest: read } = await readPackage(folder)
  // Run here, in the kernel's thread, whatever isolation the manifest asks for.
  const manifest: PluginManifest = { ...read, isolation: 'inline' }
  let impl = plugin
  let named = migrations
  if (impl === undefined) {
    if (typeof manifest.entry !== 'string' || manifest.entry === '') {
      throw new CoreError(
        'E_PLUGIN_MANIFEST',
        `${file}: corePlugin.entry must name the plugin's ES module`,
        {
          details: { path: file, field: '/entry' },
        },
      )
    }
    const entry = isAbsolute(manifest.entry) ? manifest.entry : join(folder, manifest.entry)
    let mod: Record<string, unknown>
    try {
      mod = (await import(pathToFileURL(entry).href)) as Record<string, unknown>
    } catch (error) {
      throw new CoreError(
        'E_PLUGIN_MANIFEST',
        `Cannot import the entry ${entry} of ${file}: ${(error as Error).message} (is the plugin built?)`,
        { cause: error, details: { path: file, entry } },
      )
    }
    impl = (mod.default ?? mod.plugin) as PluginExport | undefined
    named ??= mod.migrations as PluginMigrations | undefined
    if (impl === undefined) {
      throw new CoreError(
        'E_PLUGIN_MANIFEST',
        `Entry ${entry} exports nothing usable as a plugin: export default a definePlugin({...}) object, a class or a setup function`,
        { details: { path: file, entry } },
      )
    }
  }
  const out: InlinePlugin = {
    manifest,
    version: typeof pkg.version === 'string' ? pkg.version : '0.0.0',
    plugin: impl as PluginExport,
  }
  if (named !== undefined) out.migrations = named
  return out
}

/** Reads a plugin folder's package.json and its `corePlugin` manifest. */
async function readPackage(
  folder: string,
): Promise<{ file: string; pkg: { version?: unknown }; manifest: PluginManifest }> {
  const file = join(folder, 'package.json')
  let pkg: { version?: unknown; corePlugin?: unknown }
  try {
    pkg = JSON.parse(await readFile(file, 'utf8')) as typeof pkg
  } catch (error) {
    throw new CoreError(
      'E_PLUGIN_MANIFEST',
      `Cannot read the plugin package ${file}: ${(error as Error).message}`,
      {
        cause: error,
        details: { path: file },
      },
    )
  }
  const manifest = pkg.corePlugin as PluginManifest | undefined
  if (typeof manifest !== 'object' || manifest === null) {
    throw new CoreError(
      'E_PLUGIN_MANIFEST',
      `${file} has no "corePlugin" manifest object: it is not a Core Runtime plugin`,
      {
        details: { path: file },
      },
    )
  }
  return { file, pkg, manifest }
}

/** Wraps the implementation so that the kernel's `ctx` reaches `sink` first. */
function capture(spec: InlinePlugin, sink: ContextSink): InlinePlugin {
  const original = spec.plugin as unknown
  let plugin: unknown
  if (typeof original === 'function') {
    const fn = original as ((ctx: PluginContext<unknown>) => unknown) & {
      migrations?: PluginMigrations
    }
    if (/^class[\s{]/.test(Function.prototype.toString.call(fn))) {
      const Base = fn as unknown as new (ctx: PluginContext<unknown>) => PluginHooks<unknown>
      plugin = class extends Base {
        constructor(ctx: PluginContext<unknown>) {
          sink(ctx)
          super(ctx)
        }
      }
    } else {
      plugin = (ctx: PluginContext<unknown>) => {
        sink(ctx)
        return fn(ctx)
      }
    }
    if (fn.migrations !== undefined) (plugin as { migrations?: unknown }).migrations = fn.migrations
  } else if (typeof original === 'object' && original !== null) {
    const hooks = original as PluginHooks<unknown>
    const wrapper = Object.create(hooks) as PluginHooks<unknown>
    wrapper.setup = function (this: PluginHooks<unknown>, ctx: PluginContext<unknown>) {
      sink(ctx)
      return hooks.setup?.call(this, ctx)
    }
    plugin = wrapper
  } else {
    plugin = original
  }
  return { ...spec, plugin: plugin as PluginExport }
}
