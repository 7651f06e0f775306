import type { PluginDefinition } from './types.js'

/**
 * Declares a plugin: returns `definition` unchanged, typed, so that `setup(ctx)` gets a
 * {@link PluginContext} whose `config` is `Config`. Export it as the entry module's
 * `default` (or as a named `plugin`). Every hook is optional and runs under the kernel's
 * per-step timeout (`lifecycleTimeoutMs`, 10 s by default):
 *
 * - `setup(ctx)`: register services, subscribe, read `ctx.config`; runs after the plugin's
 *   storage `migrations` (manifest `storage.version`);
 * - `start()`: begin work; `stop()`: end it (`ctx.signal` is already aborted);
 * - `unload()`: last call before everything made through `ctx` is released.
 *
 * @param definition - The hooks and optional `migrations`.
 * @returns The same object.
 * @example
 * ```ts
 * import { definePlugin } from '@core/kernel'
 *
 * export default definePlugin<{ greeting: string }>({
 *   setup(ctx) {
 *     ctx.services.register('hello.greet', ({ who }) => `${ctx.config.greeting}, ${who}!`, {
 *       params: { type: 'object', properties: { who: { type: 'string' } }, required: ['who'] },
 *     })
 *   },
 * })
 * ```
 * @public
 */
export function definePlugin<Config = Record<string, unknown>>(
  definition: PluginDefinition<Config>,
): PluginDefinition<Config> {
  return definition
}
