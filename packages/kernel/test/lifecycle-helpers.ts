import { CoreError } from '@core/contracts'
import type { InlinePlugin } from '../src/index.js'

export const inline = (
  name: string,
  plugin: InlinePlugin['plugin'],
  manifest: Partial<InlinePlugin['manifest']> = {},
  version = '1.0.0',
): InlinePlugin => ({ manifest: { name, coreApi: '^1.0.0', ...manifest }, version, plugin })

export async function rejection(work: Promise<unknown>): Promise<CoreError> {
  const error = await work.then(
    () => undefined,
    (e: unknown) => e,
  )
  if (!CoreError.is(error)) throw new Error(`expected a CoreError, got ${String(error)}`)
  return error
}
