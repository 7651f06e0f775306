import { describe, expect, it } from 'vitest'
import * as api from '../src/index.js'

describe('public surface', () => {
  it('exports exactly these values', () => {
    expect(Object.keys(api).sort()).toEqual([
      'REDIS_CLIENT_DEFAULTS',
      'createCachedStorageAdapter',
      'createRedisStateBackend',
    ])
  })

  it('refuses a missing or malformed connection with E_VALIDATION', async () => {
    expect(() => api.createRedisStateBackend({} as never)).toThrow(
      expect.objectContaining({ code: 'E_VALIDATION' }),
    )
    expect(() => api.createRedisStateBackend({ url: 'http://x' })).toThrow(/redis:\/\/host:6379/)
    expect(() =>
      api.createRedisStateBackend({ url: 'redis://127.0.0.1:1', sweepIntervalMs: -1 }),
    ).toThrow(expect.objectContaining({ code: 'E_VALIDATION' }))
  })
})
