import { CoreError } from '@core/contracts'
import { describe, expect, it } from 'vitest'
import { toStorageError } from '../src/errors.js'

const target = '127.0.0.1:5432/test'

function pgError(code: string, message: string): Error {
  return Object.assign(new Error(message), { name: 'PostgresError', code })
}

describe('toStorageError', () => {
  it('wraps a PostgreSQL error as E_STORAGE naming the operation, namespace and key, with the SQLSTATE', () => {
    const cause = pgError('42P01', 'relation "core_documents" does not exist')
    const error = toStorageError(cause, {
      operation: 'get',
      namespace: 'lights',
      key: 'kitchen',
      target,
    })
    expect(CoreError.is(error, 'E_STORAGE')).toBe(true)
    expect(error.message).toBe(
      'PostgreSQL failed to get in namespace "lights" key "kitchen": relation "core_documents" does not exist (SQLSTATE 42P01)',
    )
    expect(error.cause).toBe(cause)
    expect(error.details).toEqual({
      operation: 'get',
      namespace: 'lights',
      key: 'kitchen',
      sqlstate: '42P01',
    })
  })

  it('maps a deadlock or a serialisation failure to E_CONFLICT, which the caller may retry', () => {
    for (const code of ['40P01', '40001']) {
      const error = toStorageError(pgError(code, 'aborted'), {
        operation: 'run a transaction',
        target,
      })
      expect(CoreError.is(error, 'E_CONFLICT')).toBe(true)
      expect(error.message).toMatch(/nothing of it was applied; retry/)
    }
  })

  it('says the server is unreachable for refused, reset or closed connections and server shutdowns', () => {
    const causes = [
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }),
      Object.assign(new Error('write CONNECTION_CLOSED 127.0.0.1:5432'), {
        code: 'CONNECTION_CLOSED',
      }),
      pgError('57P01', 'terminating connection due to administrator command'),
      pgError('08006', 'connection failure'),
    ]
    for (const cause of causes) {
      const error = toStorageError(cause, { operation: 'set', namespace: 'app', key: 'k', target })
      expect(CoreError.is(error, 'E_STORAGE')).toBe(true)
      expect(error.message).toMatch(
        /PostgreSQL at 127\.0\.0\.1:5432\/test is unreachable or closed the connection/,
      )
      expect(error.message).toMatch(/CORE_DATABASE_URL/)
      expect(error.cause).toBe(cause)
    }
  })

  it('passes a CoreError through unchanged and wraps non-errors', () => {
    const original = new CoreError('E_VALIDATION', 'bad input given here')
    expect(toStorageError(original, { operation: 'set', target })).toBe(original)
    const wrapped = toStorageError('boom', { operation: 'count', namespace: 'app', target })
    expect(CoreError.is(wrapped, 'E_STORAGE')).toBe(true)
    expect(wrapped.message).toBe('PostgreSQL failed to count in namespace "app": boom')
  })
})
