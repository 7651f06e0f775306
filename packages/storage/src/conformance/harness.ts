import { CoreError, type CoreErrorCode } from '@core/contracts'
import { expect } from 'vitest'
import type { Storage } from '../types.js'

/** What every conformance topic reads: the fresh storage of the running test. @internal */
export interface ConformanceHarness {
  /** A storage over a fresh, empty adapter, closed after the test. */
  readonly storage: Storage
}

/** Asserts that `run` rejects with a CoreError of `code` and an actionable message. @internal */
export async function expectCode(
  run: () => Promise<unknown>,
  code: CoreErrorCode,
): Promise<CoreError> {
  let caught: unknown
  try {
    await run()
  } catch (error) {
    caught = error
  }
  if (!CoreError.is(caught, code)) {
    const got = CoreError.is(caught) ? `${caught.code}: ${caught.message}` : String(caught)
    throw new Error(`Expected a CoreError ${code}, got ${caught === undefined ? 'no error' : got}`)
  }
  expect(caught.message.length).toBeGreaterThan(10)
  return caught
}
