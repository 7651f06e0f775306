import { generateKeyPairSync } from 'node:crypto'
import { CoreError } from '@core/contracts'
import { describe, expect, it } from 'vitest'
import {
  createMemoryReplayStore,
  createSigner,
  createVerifier,
  type RefusalReason,
  type SignableEvent,
  type SigningKey,
} from '../src/index.js'

const SECRET_1 = 'aaaaaaaaaaaaaaaa0123456789abcdef0123456789abcdef'
const SECRET_2 = 'bbbbbbbbbbbbbbbbfedcba9876543210fedcba9876543210'
const K1: SigningKey = { id: 'k1', algorithm: 'hmac-sha256', secret: SECRET_1, owner: 'hub-a' }
const K2: SigningKey = { id: 'k2', algorithm: 'hmac-sha256', secret: SECRET_2, owner: 'hub-a' }
const NOW = Date.parse('2026-12-01T12:00:00.000Z')

function event(overrides: Partial<SignableEvent> = {}): SignableEvent {
  return {
    specversion: '1.0',
    id: `e-${Math.random().toString(36).slice(2)}`,
    source: '/hubs/a',
    type: 'devices.light.kitchen.changed',
    time: new Date(NOW).toISOString(),
    datacontenttype: 'application/json',
    data: { on: true, level: 42, tags: ['a', 'b'] },
    ...overrides,
  }
}

function verifierAt(now: number, keys: SigningKey[] = [K1, K2], windowMs?: number) {
  const clock = { now: () => now }
  return createVerifier({
    keys,
    clock,
    ...(windowMs === undefined ? {} : { windowMs }),
    replay: createMemoryReplayStore({ now: clock.now }),
  })
}

async function refusal(promise: Promise<unknown>): Promise<RefusalReason> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(CoreError)
  expect((error as CoreError).code).toBe('E_UNAUTHENTICATED')
  return (error as CoreError).details?.reason as RefusalReason
}

describe('sign and verify (HMAC-SHA256)', () => {
  it('accepts a signed event and names the key and its owner', async () => {
    const signed = createSigner({ keys: [K1], keyId: 'k1' }).sign(event())
    expect(signed).toMatchObject({ sigalg: 'hmac-sha256', sigkid: 'k1' })
    expect(signed.sig).toMatch(/^[A-Za-z0-9_-]{43}$/) // 32 bytes, base64url, no padding
    await expect(verifierAt(NOW).verify(signed)).resolves.toEqual({
      keyId: 'k1',
      owner: 'hub-a',
      algorithm: 'hmac-sha256',
    })
  })

  it('signs the canonical form: member order and whitespace of the data do not matter', async () => {
    const signer = createSigner({ keys: [K1], keyId: 'k1' })
    const a = signer.sign(event({ id: 'same', data: { b: 1, a: [1, 2] } }))
    const b = signer.sign(event({ id: 'same', data: { a: [1, 2], b: 1 } }))
    expect(a.sig).toBe(b.sig)
  })

  it('leaves the input event untouched and replaces an earlier signature', () => {
    const signer = createSigner({ keys: [K1, K2], keyId: 'k2' })
    const input = Object.freeze(event())
    const once = createSigner({ keys: [K1], keyId: 'k1' }).sign(input)
    const again = signer.sign(once)
    expect(input).not.toHaveProperty('sig')
    expect(again.sigkid).toBe('k2')
    expect(again.sig).not.toBe(once.sig)
  })

  it.each([
    [
      'tampered data',
      (e: SignableEvent) => ({ ...e, data: { on: false, level: 42, tags: ['a', 'b'] } }),
    ],
    ['tampered type', (e: SignableEvent) => ({ ...e, type: 'devices.lock.front.open' })],
    ['tampered source', (e: SignableEvent) => ({ ...e, source: '/hubs/evil' })],
    ['tampered subject', (e: SignableEvent) => ({ ...e, subject: 'added' })],
    ['tampered time', (e: SignableEvent) => ({ ...e, time: new Date(NOW + 1_000).toISOString() })],
    ['signature of another event', (e: SignableEvent) => ({ ...e, id: 'other-id' })],
    ['garbage signature', (e: SignableEvent) => ({ ...e, sig: 'not base64url!' })],
  ])('refuses %s as bad-signature', async (_name, tamper) => {
    const signed = createSigner({ keys: [K1], keyId: 'k1' }).sign(event())
    const verifier = verifierAt(NOW)
    expect(await refusal(verifier.verify(tamper(signed) as SignableEvent))).toBe('bad-signature')
    expect(verifier.stats().refused['bad-signature']).toBe(1)
    expect(verifier.stats().accepted).toBe(0)
  })

  it('refuses an unknown key id, a swapped algorithm and an unsigned event', async () => {
    const signed = createSigner({ keys: [K1], keyId: 'k1' }).sign(event())
    const verifier = verifierAt(NOW)
    expect(await refusal(verifier.verify({ ...signed, sigkid: 'k9' }))).toBe('unknown-key')
    expect(await refusal(verifier.verify({ ...signed, sigalg: 'ed25519' }))).toBe('unknown-key')
    expect(await refusal(verifier.verify({ ...signed, sigalg: 'none' }))).toBe('unknown-algorithm')
    expect(await refusal(verifier.verify(event()))).toBe('unsigned')
    // A key the verifier does not hold: same id, another secret.
    const forged = createSigner({
      keys: [{ id: 'k1', algorithm: 'hmac-sha256', secret: SECRET_2 }],
      keyId: 'k1',
    }).sign(event())
    expect(await refusal(verifier.verify(forged))).toBe('bad-signature')
    expect(verifier.stats().refused).toMatchObject({
      'unknown-key': 2,
      'unknown-algorithm': 1,
      unsigned: 1,
      'bad-signature': 1,
    })
  })

  it('refuses events outside the time window either way, and events without a time', async () => {
    const signer = createSigner({ keys: [K1], keyId: 'k1' })
    const verifier = verifierAt(NOW, [K1], 300_000)
    const at = (ms: number) => signer.sign(event({ time: new Date(ms).toISOString() }))
    expect(await refusal(verifier.verify(at(NOW - 300_001)))).toBe('expired')
    expect(await refusal(verifier.verify(at(NOW + 300_001)))).toBe('future')
    await expect(verifier.verify(at(NOW - 299_000))).resolves.toMatchObject({ keyId: 'k1' })
    await expect(verifier.verify(at(NOW + 299_000))).resolves.toMatchObject({ keyId: 'k1' })
    const { time: _time, ...timeless } = event()
    expect(await refusal(verifier.verify(signer.sign(timeless as SignableEvent)))).toBe('no-time')
  })

  it('refuses a replay to the same hub, and accepts it again once the window has passed', async () => {
    let now = NOW
    const clock = { now: () => now }
    const verifier = createVerifier({
      keys: [K1],
      clock,
      windowMs: 1_000,
      replay: createMemoryReplayStore({ now: clock.now }),
    })
    const signed = createSigner({ keys: [K1], keyId: 'k1' }).sign(event())
    await verifier.verify(signed)
    expect(await refusal(verifier.verify(signed))).toBe('replayed')
    now += 900
    expect(await refusal(verifier.verify(signed))).toBe('replayed')
    now += 200 // the event itself is now older than the window: refused as expired, not replayed
    expect(await refusal(verifier.verify(signed))).toBe('expired')
    expect(verifier.stats()).toMatchObject({ accepted: 1, refused: { replayed: 2, expired: 1 } })
  })

  it('checks the key owner against who the transport says sent the message', async () => {
    const signed = createSigner({ keys: [K1], keyId: 'k1' }).sign(event())
    const verifier = verifierAt(NOW)
    expect(await refusal(verifier.verify(signed, { owner: 'hub-b' }))).toBe('owner-mismatch')
    await expect(verifier.verify(signed, { owner: 'hub-a' })).resolves.toMatchObject({
      owner: 'hub-a',
    })
  })

  it('works across a key rotation', async () => {
    // Step 1: every verifier knows k1 and k2; signers still use k1.
    const during = verifierAt(NOW, [K1, K2])
    const oldSigner = createSigner({ keys: [K1, K2], keyId: 'k1' })
    const newSigner = createSigner({ keys: [K1, K2], keyId: 'k2' })
    await expect(during.verify(oldSigner.sign(event()))).resolves.toMatchObject({ keyId: 'k1' })
    // Step 2: signers switch to k2; messages in flight signed with k1 still pass.
    await expect(during.verify(newSigner.sign(event()))).resolves.toMatchObject({ keyId: 'k2' })
    await expect(during.verify(oldSigner.sign(event()))).resolves.toMatchObject({ keyId: 'k1' })
    // Step 3: k1 is removed; what it signs is refused.
    const after = verifierAt(NOW, [K2])
    expect(await refusal(after.verify(oldSigner.sign(event())))).toBe('unknown-key')
    await expect(after.verify(newSigner.sign(event()))).resolves.toMatchObject({ keyId: 'k2' })
  })
})

describe('sign and verify (Ed25519)', () => {
  const pair = () => {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519')
    return {
      publicKey: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
      privateKey: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    }
  }

  it('verifies with the public key alone, and refuses what another key pair signed', async () => {
    const a = pair()
    const b = pair()
    const signer = createSigner({
      keys: [{ id: 'node-a', algorithm: 'ed25519', ...a }],
      keyId: 'node-a',
    })
    const verifier = verifierAt(NOW, [
      { id: 'node-a', algorithm: 'ed25519', publicKey: a.publicKey, owner: 'hub-a' },
    ])
    const signed = signer.sign(event())
    expect(signed.sigalg).toBe('ed25519')
    await expect(verifier.verify(signed)).resolves.toEqual({
      keyId: 'node-a',
      owner: 'hub-a',
      algorithm: 'ed25519',
    })
    const impostor = createSigner({
      keys: [{ id: 'node-a', algorithm: 'ed25519', ...b }],
      keyId: 'node-a',
    }).sign(event())
    expect(await refusal(verifier.verify(impostor))).toBe('bad-signature')
    expect(await refusal(verifier.verify({ ...signed, data: { on: false } }))).toBe('bad-signature')
  })

  it('refuses to sign without the private key, and a private key of another pair', () => {
    const a = pair()
    const b = pair()
    expect(() =>
      createSigner({
        keys: [{ id: 'a', algorithm: 'ed25519', publicKey: a.publicKey }],
        keyId: 'a',
      }),
    ).toThrow(/only its public key/)
    expect(() =>
      createSigner({
        keys: [{ id: 'a', algorithm: 'ed25519', publicKey: a.publicKey, privateKey: b.privateKey }],
        keyId: 'a',
      }),
    ).toThrow(/not one key pair/)
  })
})

describe('configuration errors', () => {
  it.each([
    [[], /at least one signing key/],
    [[{ id: 'k', algorithm: 'hmac-sha256', secret: 'short' }], /at least 32 bytes/],
    [[{ id: 'bad id!', algorithm: 'hmac-sha256', secret: SECRET_1 }], /key id/],
    [[K1, K1], /unique/],
    [[{ id: 'k', algorithm: 'rsa', secret: SECRET_1 }], /unknown algorithm/],
    [[{ id: 'k', algorithm: 'ed25519', publicKey: 'not pem' }], /not a PEM key/],
  ])('refuses keys %# with E_VALIDATION', (keys, message) => {
    const error = (() => {
      try {
        createVerifier({ keys: keys as SigningKey[] })
      } catch (e) {
        return e
      }
    })()
    expect(error).toBeInstanceOf(CoreError)
    expect((error as CoreError).code).toBe('E_VALIDATION')
    expect((error as CoreError).message).toMatch(message)
  })

  it('refuses an unknown signing key id and a bad window', () => {
    expect(() => createSigner({ keys: [K1], keyId: 'k2' })).toThrow(/not among the configured keys/)
    expect(() => createVerifier({ keys: [K1], windowMs: 0 })).toThrow(/windowMs/)
  })

  it('refuses to sign an event without id, source or type, or with data that has no JSON form', () => {
    const signer = createSigner({ keys: [K1], keyId: 'k1' })
    expect(() => signer.sign({ ...event(), id: '' })).toThrow(/"id"/)
    expect(() => signer.sign(event({ data: { x: Number.NaN } }))).toThrow(CoreError)
  })
})

describe('memory replay store', () => {
  it('forgets the oldest pairs first when full, and counts them', async () => {
    const store = createMemoryReplayStore({ maxEntries: 2, now: () => NOW })
    expect(await store.remember('s', '1', 10_000)).toBe(false)
    expect(await store.remember('s', '2', 10_000)).toBe(false)
    expect(await store.remember('s', '3', 10_000)).toBe(false)
    expect(store.size).toBe(2)
    expect(store.evicted).toBe(1)
    expect(await store.remember('s', '3', 10_000)).toBe(true)
    expect(await store.remember('s', '1', 10_000)).toBe(false) // forgotten, so new again
  })

  it('keeps sources apart', async () => {
    const store = createMemoryReplayStore()
    expect(await store.remember('/a', 'x', 1_000)).toBe(false)
    expect(await store.remember('/b', 'x', 1_000)).toBe(false)
    expect(await store.remember('/a', 'x', 1_000)).toBe(true)
  })
})
