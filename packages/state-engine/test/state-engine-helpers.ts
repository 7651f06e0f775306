import { CoreError } from '@core/contracts'
import type { StateBackend } from '../src/index.js'

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

/** Wraps a backend so that each call commits at once but answers after a random number of microtask turns. */
export function jittery(backend: StateBackend): StateBackend {
  const later =
    <A extends unknown[], R>(fn: (...args: A) => R | Promise<R>) =>
    async (...args: A): Promise<R> => {
      const result = await fn(...args)
      for (let i = Math.floor(Math.random() * 6); i > 0; i--) await Promise.resolve()
      return result
    }
  return {
    get: later(backend.get),
    list: later(backend.list),
    set: later(backend.set),
    delete: later(backend.delete),
    expire: later(backend.expire),
  }
}
