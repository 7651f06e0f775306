import { randomBytes, randomUUID } from 'node:crypto'
import { silentLogger } from '@core/contracts'
import { createMemoryReplayStore, createSigner, type SigningKey } from '@core/signing'
import { describe, expect, it } from 'vitest'
import { type Envelope, makeEnvelope } from '../src/envelope.js'
import { MessageGuard } from '../src/signing.js'
import type { MindBusStats } from '../src/types.js'

const KEY: SigningKey = {
  id: 'k1',
  algorithm: 'hmac-sha256',
  secret: randomBytes(32).toString('hex'),
  owner: 'guest',
}
const stats = (): MindBusStats => ({
  sent: {},
  served: {},
  roundTrip: { count: 0, totalMs: 0, maxMs: 0 },
  droppedExpired: 0,
  duplicates: 0,
  deadLettered: 0,
  reconnects: 0,
  eventsExported: 0,
  eventsImported: 0,
  eventsRefused: 0,
  controlReceived: 0,
  controlRefused: 0,
  signatureVerified: 0,
  signatureRefused: {},
})
const envelope = (type = 'core.mindbus.command'): Envelope =>
  makeEnvelope(type, 'uid-a', { action: 'add', params: {} }, { id: randomUUID() })

describe('MessageGuard', () => {
  it('signs what it sends; another node with the key accepts it once, then refuses the replay', async () => {
    const replay = createMemoryReplayStore()
    const options = { keys: [KEY], keyId: 'k1', replay }
    const a = new MessageGuard(options, 'a', stats(), silentLogger)
    const s = stats()
    const b = new MessageGuard(options, 'b', s, silentLogger)
    const sealed = a.seal(envelope())
    expect(sealed).toMatchObject({ sigalg: 'hmac-sha256', sigkid: 'k1' })
    await expect(b.check(sealed, 'command', 'guest')).resolves.toBeUndefined()
    const again = await b.check(sealed, 'command', 'guest')
    expect(again).toMatchObject({
      code: 'E_FORBIDDEN',
      details: { reason: 'replayed', kind: 'command' },
    })
    expect(s).toMatchObject({ signatureVerified: 1, signatureRefused: { replayed: 1 } })
  })

  it('lets a command the broker redelivers through (not a replay), but not a fresh copy', async () => {
    const s = stats()
    const b = new MessageGuard({ keys: [KEY], keyId: 'k1' }, 'b', s, silentLogger)
    const sealed = b.seal(envelope())
    await expect(b.check(sealed, 'command', 'guest')).resolves.toBeUndefined()
    await expect(b.check(sealed, 'command', 'guest', true)).resolves.toBeUndefined()
    await expect(b.check(sealed, 'command', 'guest', false)).resolves.toMatchObject({
      details: { reason: 'replayed' },
    })
  })

  it('keeps events per receiving node: one event reaches two nodes sharing a store, a copy does not', async () => {
    const replay = createMemoryReplayStore()
    const options = { keys: [KEY], keyId: 'k1', replay }
    const b = new MessageGuard(options, 'b', stats(), silentLogger)
    const c = new MessageGuard(options, 'c', stats(), silentLogger)
    const event = b.seal(envelope('devices.changed'))
    await expect(b.check(event, 'event', 'guest')).resolves.toBeUndefined()
    await expect(c.check(event, 'event', 'guest')).resolves.toBeUndefined()
    await expect(c.check(event, 'event', 'guest')).resolves.toMatchObject({
      details: { reason: 'replayed' },
    })
    const command = b.seal(envelope())
    await expect(b.check(command, 'command', 'guest')).resolves.toBeUndefined()
    await expect(c.check(command, 'command', 'guest')).resolves.toMatchObject({
      details: { reason: 'replayed' },
    })
  })

  it('refuses a message without user_id when the key names an owner, and maps reasons to codes', async () => {
    const s = stats()
    const g = new MessageGuard({ keys: [KEY], keyId: 'k1' }, 'b', s, silentLogger)
    await expect(g.check(g.seal(envelope()), 'control', undefined)).resolves.toMatchObject({
      code: 'E_FORBIDDEN',
      details: { reason: 'owner-mismatch' },
    })
    const old = createSigner({ keys: [KEY], keyId: 'k1' }).sign({
      ...envelope(),
      time: new Date(Date.now() - 600_000).toISOString(),
    })
    await expect(g.check(old, 'result', 'guest')).resolves.toMatchObject({
      code: 'E_VALIDATION',
      details: { reason: 'expired' },
    })
    expect(s.signatureRefused).toEqual({ 'owner-mismatch': 1, expired: 1 })
  })

  it('accepts unsigned messages only with required: false, and does nothing without keys', async () => {
    const lax = new MessageGuard(
      { keys: [KEY], keyId: 'k1', required: false },
      'b',
      stats(),
      silentLogger,
    )
    await expect(lax.check(envelope(), 'event', 'guest')).resolves.toBeUndefined()
    const tampered = { ...lax.seal(envelope()), data: { action: 'rm', params: {} } }
    await expect(lax.check(tampered, 'command', 'guest')).resolves.toMatchObject({
      details: { reason: 'bad-signature' },
    })
    const strict = new MessageGuard({ keys: [KEY], keyId: 'k1' }, 'b', stats(), silentLogger)
    await expect(strict.check(envelope(), 'event', 'guest')).resolves.toMatchObject({
      details: { reason: 'unsigned' },
    })
    const off = new MessageGuard(undefined, 'b', stats(), silentLogger)
    const plain = envelope()
    expect(off.enabled).toBe(false)
    expect(off.seal(plain)).toBe(plain)
    await expect(off.check(plain, 'command', undefined)).resolves.toBeUndefined()
  })
})
