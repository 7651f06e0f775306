import canonicalize from 'canonicalize'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createMemoryReplayStore, createSigner, createVerifier } from '../src/index.js'

const KEY = {
  id: 'k1',
  algorithm: 'hmac-sha256',
  secret: '0123456789abcdef0123456789abcdef0123456789abcdef',
} as const
const NOW = Date.parse('2026-12-01T12:00:00.000Z')

// JSON values as they arrive off the wire (no -0, no non-finite numbers).
const json = fc.jsonValue().map((v) => JSON.parse(JSON.stringify(v)) as unknown)

describe('signing properties', () => {
  it('any JSON data signed is accepted once; any change to the data is refused', async () => {
    const signer = createSigner({ keys: [KEY], keyId: 'k1' })
    await fc.assert(
      fc.asyncProperty(json, json, fc.uuid(), async (data, other, id) => {
        const verifier = createVerifier({
          keys: [KEY],
          clock: { now: () => NOW },
          replay: createMemoryReplayStore({ now: () => NOW }),
        })
        const signed = signer.sign({
          specversion: '1.0',
          id,
          source: '/hubs/a',
          type: 'x.changed',
          time: new Date(NOW).toISOString(),
          data,
        })
        // The signature survives a trip through JSON (what a broker carries).
        const received = JSON.parse(JSON.stringify(signed))
        await expect(verifier.verify(received)).resolves.toMatchObject({ keyId: 'k1' })
        if (canonicalize(other) !== canonicalize(data)) {
          // Same id: the signature check comes before the replay check.
          const changed = { ...received, data: other }
          await expect(verifier.verify(changed)).rejects.toMatchObject({
            code: 'E_UNAUTHENTICATED',
            details: { reason: 'bad-signature' },
          })
        }
      }),
      { numRuns: 200 },
    )
  })
})
