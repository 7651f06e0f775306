import { CoreError, silentLogger } from '@core/contracts'
import { createKernel, type InlinePlugin, type Kernel, type PluginContext } from '@core/kernel'
import { type CreateMqttBridgeOptions, createMqttBridge, type MqttBridge } from '../src/index.js'
import { BROKER_URL, type RawClient, rawClient, uniquePrefix } from './broker.js'

/** A plugin that may use the bridge's services and events; its ctx is handed out. */
export function listener(name: string, contexts: Map<string, PluginContext>): InlinePlugin {
  return {
    manifest: {
      name,
      coreApi: '^1.0.0',
      permissions: {
        services: { call: ['mqtt.*'] },
        events: { subscribe: ['mqtt.message.#'] },
      },
    },
    plugin: {
      setup(ctx: PluginContext) {
        contexts.set(name, ctx)
      },
    },
  }
}

export interface Setup {
  kernel: Kernel
  bridge: MqttBridge
  prefix: string
  contexts: Map<string, PluginContext>
}

export const cleanups: Array<() => Promise<unknown>> = []

/** Stops what the test started (clients, bridges, kernels), last first: each file's `afterEach`. */
export async function runCleanups(): Promise<void> {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined)
}

export async function boot(
  options: CreateMqttBridgeOptions = {},
  plugins: InlinePlugin[] = [],
): Promise<Setup> {
  const contexts = new Map<string, PluginContext>()
  const kernel = createKernel({
    logger: silentLogger,
    plugins: [listener('alpha', contexts), listener('beta', contexts), ...plugins],
  })
  const prefix = options.prefix ?? uniquePrefix('core')
  const bridge = createMqttBridge(kernel, {
    url: BROKER_URL,
    logger: silentLogger,
    reconnect: { minDelayMs: 50, maxDelayMs: 500 },
    ...options,
    prefix,
  })
  await kernel.start()
  await bridge.start()
  cleanups.push(
    () => kernel.stop(),
    () => bridge.stop(),
  )
  return { kernel, bridge, prefix, contexts }
}

export async function client(version: 4 | 5, filters: string[] = []): Promise<RawClient> {
  const c = await rawClient(version)
  cleanups.push(() => c.close())
  if (filters.length > 0) await c.subscribe(filters, 1)
  return c
}

export function codeOf(error: unknown): string {
  return CoreError.is(error) ? error.code : String(error)
}
