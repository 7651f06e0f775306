import { describe, expect, it } from 'vitest'
import * as api from '../src/index.js'

describe('public surface', () => {
  it('exports exactly these names', () => {
    expect(Object.keys(api).sort()).toEqual([
      'DEFAULT_WINDOW_MS',
      'MIN_HMAC_SECRET_BYTES',
      'REFUSAL_REASONS',
      'createMemoryReplayStore',
      'createRedisReplayStore',
      'createSigner',
      'createVerifier',
    ])
  })
})
