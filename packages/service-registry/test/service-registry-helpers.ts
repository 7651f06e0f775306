import { CoreError, silentLogger } from '@core/contracts'
import { expect } from 'vitest'
import { createServiceRegistry } from '../src/index.js'

export const onOff = {
  type: 'object',
  properties: { on: { type: 'boolean' }, level: { type: 'integer', minimum: 0, maximum: 100 } },
  required: ['on'],
  additionalProperties: false,
}

export function registry(): ReturnType<typeof createServiceRegistry> {
  return createServiceRegistry({ logger: silentLogger })
}

export async function rejection(promise: Promise<unknown>): Promise<CoreError> {
  try {
    await promise
  } catch (error) {
    expect(CoreError.is(error)).toBe(true)
    return error as CoreError
  }
  throw new Error('expected the promise to reject')
}

export function thrown(fn: () => unknown): CoreError {
  try {
    fn()
  } catch (error) {
    expect(CoreError.is(error)).toBe(true)
    return error as CoreError
  }
  throw new Error('expected a throw')
}
