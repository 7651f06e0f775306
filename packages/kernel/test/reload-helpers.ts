import v8 from 'node:v8'
import vm from 'node:vm'
import type { Kernel } from '../src/index.js'

/** What a reload must leave as it found: the kernel's resources, bus subscriptions, services. */
export interface ReloadBaseline {
  resources: ReturnType<Kernel['stats']>['resources']
  subscriptions: number
  services: number
}

/** The kernel's counts before the reloads, to compare after them. */
export function reloadBaseline(kernel: Kernel): ReloadBaseline {
  return {
    resources: kernel.stats().resources,
    subscriptions: kernel.bus.stats().subscriptions,
    services: kernel.services.list().length,
  }
}

/**
 * Reloads plugin `name` `warmup` times (first compilations, caches), collects garbage, then
 * reloads it `times` times more and collects again; returns how much the main heap grew over
 * those `times` reloads, in bytes. `settleMs` (ms) lets timers of the old instances fire first.
 */
export async function heapGrowthOverReloads(
  kernel: Kernel,
  name: string,
  { warmup, times, settleMs }: { warmup: number; times: number; settleMs?: number },
): Promise<number> {
  const collect = gc()
  const settle = async (): Promise<void> => {
    if (settleMs !== undefined) await new Promise((r) => setTimeout(r, settleMs))
  }
  for (let i = 0; i < warmup; i++) await kernel.plugins.reload(name)
  await settle()
  collect()
  const before = process.memoryUsage().heapUsed
  for (let i = 0; i < times; i++) await kernel.plugins.reload(name)
  await settle()
  collect()
  return process.memoryUsage().heapUsed - before
}

/** `gc()`, exposed for the test process when Node was not started with `--expose-gc`. */
function gc(): () => void {
  const exposed = (globalThis as { gc?: () => void }).gc
  if (exposed) return exposed
  v8.setFlagsFromString('--expose-gc')
  return vm.runInNewContext('gc') as () => void
}
