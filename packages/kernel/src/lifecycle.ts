import { type Clock, CoreError } from '@core/contracts'
import type {
  LifecycleStep,
  LifecycleTimeouts,
  PluginContext,
  PluginHooks,
  PluginMigrations,
} from './types.js'

/** Default timeout of each lifecycle step, ms. @public */
export const DEFAULT_LIFECYCLE_TIMEOUT_MS = 10_000

/** Default overall deadline of `kernel.stop()`, ms. @public */
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 30_000

/** Resolves the timeout of one step from the `lifecycleTimeoutMs` option. @internal */
export function stepTimeout(
  option: number | LifecycleTimeouts | undefined,
  step: LifecycleStep,
): number {
  if (typeof option === 'number') return option
  return option?.[step] ?? DEFAULT_LIFECYCLE_TIMEOUT_MS
}

/**
 * Runs `work` under a deadline. Rejects with `E_TIMEOUT` when `timeoutMs` passes first (the
 * work is abandoned, not cancelled: JavaScript cannot stop it), else settles as `work` does.
 * @internal
 */
export function withTimeout<T>(
  clock: Clock,
  timeoutMs: number,
  what: string,
  work: () => T | Promise<T>,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let done = false
    const timer = clock.setTimeout(() => {
      if (done) return
      done = true
      reject(
        new CoreError('E_TIMEOUT', `${what} did not finish within ${timeoutMs} ms`, {
          details: { timeoutMs },
        }),
      )
    }, timeoutMs)
    const finish = (ok: boolean, value: unknown): void => {
      if (done) return
      done = true
      clock.clearTimeout(timer)
      if (ok) resolve(value as T)
      else reject(value)
    }
    try {
      Promise.resolve(work()).then(
        (v) => finish(true, v),
        (e: unknown) => finish(false, e),
      )
    } catch (error) {
      finish(false, error)
    }
  })
}

/**
 * The `E_PLUGIN_LIFECYCLE` error naming the plugin, the step and the cause.
 * @internal
 */
export function lifecycleError(plugin: string, step: LifecycleStep, cause: unknown): CoreError {
  const reason = cause instanceof Error ? cause.message : String(cause)
  const code = CoreError.is(cause) ? ` (${cause.code})` : ''
  return new CoreError(
    'E_PLUGIN_LIFECYCLE',
    `Plugin "${plugin}" failed at ${step}: ${reason}${code}`,
    {
      cause,
      details: { plugin, step, cause: CoreError.is(cause) ? cause.code : undefined },
    },
  )
}

/** A loaded plugin implementation, ready for `setup`. @internal */
export interface PluginInstance {
  hooks: PluginHooks<unknown>
  migrations: PluginMigrations | undefined
  /** For a class or setup function: builds the hooks (called in the setup step). */
  create: ((ctx: PluginContext<unknown>) => Promise<PluginHooks<unknown>>) | undefined
}

/**
 * Turns what an entry module exports into a plugin instance: `default` or a named `plugin`,
 * being a hooks object, a class (`new Plugin(ctx)`) or a setup function `(ctx) => hooks?`.
 * A named `migrations` export is used when the plugin has none.
 * @throws {@link @core/contracts!CoreError} `E_PLUGIN_MANIFEST` when the module exports nothing usable.
 * @internal
 */
export function toPluginInstance(mod: Record<string, unknown>, where: string): PluginInstance {
  const value = mod.default ?? mod.plugin
  const named = isMigrations(mod.migrations) ? mod.migrations : undefined
  if (typeof value === 'function') {
    const fn = value as (...args: unknown[]) => unknown
    const isClass = /^class[\s{]/.test(Function.prototype.toString.call(fn))
    const migrations = isMigrations((fn as { migrations?: unknown }).migrations)
      ? ((fn as { migrations?: unknown }).migrations as PluginMigrations)
      : named
    return {
      hooks: {},
      migrations,
      create: async (ctx) => {
        if (isClass) return new (fn as unknown as new (c: unknown) => PluginHooks<unknown>)(ctx)
        const returned = await fn(ctx)
        return isHooks(returned) ? (returned as PluginHooks<unknown>) : {}
      },
    }
  }
  if (isHooks(value)) {
    const hooks = value as PluginHooks<unknown> & { migrations?: unknown }
    return {
      hooks,
      migrations: isMigrations(hooks.migrations) ? hooks.migrations : named,
      create: undefined,
    }
  }
  const exported = Object.keys(mod)
  throw new CoreError(
    'E_PLUGIN_MANIFEST',
    `Entry ${where} exports nothing usable as a plugin (exports: ${exported.length === 0 ? 'none' : exported.join(', ')}); export default a definePlugin({...}) object, a class or a setup function`,
    { details: { entry: where, exports: exported } },
  )
}

const HOOK_NAMES = ['setup', 'start', 'stop', 'unload'] as const

function isHooks(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false
  const v = value as Record<string, unknown>
  let any = false
  for (const name of HOOK_NAMES) {
    if (v[name] === undefined) continue
    if (typeof v[name] !== 'function') return false
    any = true
  }
  return any
}

function isMigrations(value: unknown): value is PluginMigrations {
  return (
    typeof value === 'object' &&
    value !== null &&
    Object.values(value).every((step) => typeof step === 'function')
  )
}
