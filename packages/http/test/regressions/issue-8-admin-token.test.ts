import { randomBytes } from 'node:crypto'
import { CoreError, silentLogger } from '@core/contracts'
import { createKernel } from '@core/kernel'
import { describe, expect, it } from 'vitest'
import {
  assertStrongAdminToken,
  createHttpServer,
  estimateEntropyBits,
  MIN_ADMIN_TOKEN_BITS,
} from '../../src/index.js'

describe('issue 8: a guessable admin token is refused', () => {
  it('refuses 32 × "a" and other low-entropy tokens with a message saying how to make one', () => {
    const kernel = createKernel({ logger: silentLogger })
    for (const weak of [
      'a'.repeat(32),
      'abcdefghijklmnopqrstuvwxyzabcdef',
      '0123456789012345678901234567890123456789',
      'correct-horse-battery-staple-admin-token',
      randomBytes(8).toString('hex').repeat(4),
    ]) {
      let error: unknown
      try {
        createHttpServer(kernel, { adminToken: weak, logger: silentLogger })
      } catch (e) {
        error = e
      }
      expect(CoreError.is(error, 'E_VALIDATION')).toBe(true)
      const message = (error as Error).message
      expect(message).toContain('openssl rand -hex 32')
      expect(message).toContain('core token create')
      expect(message).not.toContain(weak)
    }
  })

  it('accepts random tokens of 256 bits in hex, base64 and the generated format', () => {
    for (let i = 0; i < 200; i++) {
      for (const strong of [
        randomBytes(32).toString('hex'),
        randomBytes(32).toString('base64'),
        randomBytes(32).toString('base64url'),
        `core_${randomBytes(8).toString('hex')}_${randomBytes(32).toString('base64url')}`,
      ]) {
        expect(estimateEntropyBits(strong)).toBeGreaterThanOrEqual(MIN_ADMIN_TOKEN_BITS)
        expect(() => assertStrongAdminToken(strong)).not.toThrow()
      }
    }
  })

  it('estimates repeats and runs at no entropy', () => {
    expect(estimateEntropyBits('')).toBe(0)
    expect(estimateEntropyBits('a'.repeat(64))).toBe(0)
    expect(estimateEntropyBits('abcdefghijklmnopqrstuvwxyz')).toBeLessThan(13)
  })
})
