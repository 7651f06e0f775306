import { CoreError } from '@core/contracts'
import type { CreateKernelOptions } from './types.js'

/**
 * Checks the options of `createKernel` that are not checked where they are used.
 * @throws {@link CoreError} `E_VALIDATION` naming the option and the rule.
 * @internal
 */
export function checkOptions(options: CreateKernelOptions): void {
  const bad = (what: string, rule: string): never => {
    throw new CoreError('E_VALIDATION', `Invalid kernel option ${what}: ${rule}`, {
      details: { option: what },
    })
  }
  const positive = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v) && v > 0
  if (options.lifecycleTimeoutMs !== undefined) {
    const t = options.lifecycleTimeoutMs
    if (
      typeof t === 'number'
        ? !positive(t)
        : typeof t !== 'object' || !Object.values(t).every(positive)
    ) {
      bad('lifecycleTimeoutMs', 'use a positive number of milliseconds, or one per step')
    }
  }
  if (options.shutdownTimeoutMs !== undefined && !positive(options.shutdownTimeoutMs)) {
    bad('shutdownTimeoutMs', 'use a positive number of milliseconds')
  }
  for (const key of ['pluginDirs', 'plugins', 'required', 'persistState'] as const) {
    if (options[key] !== undefined && !Array.isArray(options[key])) bad(key, 'use an array')
  }
  if (options.stateBackend !== undefined && (options.persistState?.length ?? 0) > 0) {
    bad('stateBackend', 'give either stateBackend or persistState, not both')
  }
}
