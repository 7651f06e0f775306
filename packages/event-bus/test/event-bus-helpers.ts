import { CoreError, silentLogger } from '@core/contracts'

export const quiet = { logger: silentLogger }

export async function rejection(promise: Promise<unknown>): Promise<CoreError> {
  try {
    await promise
  } catch (error) {
    if (CoreError.is(error)) return error
    throw error
  }
  throw new Error('expected a rejection')
}

export function thrown(fn: () => unknown): CoreError {
  try {
    fn()
  } catch (error) {
    if (CoreError.is(error)) return error
    throw error
  }
  throw new Error('expected a throw')
}
