import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { silentLogger } from '@core/contracts'
import { expectCoreError } from '@core/contracts/testing'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { loadHubConfig } from '../src/config.js'
import { describeSigning, openHubSigning, resolveSigningSettings } from '../src/signing-config.js'
import { writeHubConfig } from './helpers.js'

const secret = randomBytes(32).toString('hex')

let dir: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hub-signing-'))
})
afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('the signing section', () => {
  it('is read from the hub config with its defaults: the first key signs, MindBus and MQTT on', async () => {
    const file = await writeHubConfig(dir, {
      signing: {
        keys: [
          { id: 'a', alg: 'hmac-sha256', secret, owner: 'hub' },
          { id: 'b', alg: 'hmac-sha256', secret: `${secret}x` },
        ],
      },
    })
    const config = await loadHubConfig({ argv: ['--config', file], env: {} })
    expect(config.signing).toEqual({
      keys: [
        { id: 'a', algorithm: 'hmac-sha256', secret, owner: 'hub' },
        { id: 'b', algorithm: 'hmac-sha256', secret: `${secret}x` },
      ],
      keyId: 'a',
      windowMs: 300_000,
      required: true,
      mindbus: true,
      mqttCalls: true,
      mqttEvents: true,
    })
    const signing = openHubSigning(config.signing, undefined, silentLogger)
    expect(signing?.mindbus).toMatchObject({ keyId: 'a', required: true })
    expect(signing?.mqtt.verifier).toBeDefined()
    expect(signing?.mqtt.signer?.keyId).toBe('a')
    expect(describeSigning(config.signing, undefined, true)).toBe(
      'signed with a (2 keys) on MindBus, MQTT calls, MQTT events · replay store memory',
    )
    await signing?.close()
    expect(resolveSigningSettings(undefined)).toBeUndefined()
  })

  it('refuses a short secret, a keyId that is not a key, and an ed25519 key it cannot sign with', async () => {
    const file = await writeHubConfig(dir, {
      signing: { keys: [{ id: 'a', alg: 'hmac-sha256', secret: 'short' }] },
    })
    await expectCoreError(loadHubConfig({ argv: ['--config', file], env: {} }), 'E_VALIDATION')
    expect(() =>
      resolveSigningSettings({ keys: [{ id: 'a', alg: 'hmac-sha256', secret }], keyId: 'z' }),
    ).toThrow(/signing\/keyId: "z" is not a key this hub can sign with/)
    expect(() =>
      resolveSigningSettings({ keys: [{ id: 'e', alg: 'ed25519', publicKey: 'PEM' }] }),
    ).toThrow(/no key this hub can sign with/)
    expect(() => resolveSigningSettings({ keys: [{ id: 'h', alg: 'hmac-sha256' }] })).toThrow(
      /signing\/keys\/0\/secret/,
    )
  })

  it('is described for the startup summary: where it applies, whether unsigned MindBus messages pass, the replay store', () => {
    const settings = resolveSigningSettings({
      keys: [{ id: 'k1', alg: 'hmac-sha256', secret }],
      required: false,
      mqtt: { events: false },
    })
    const redis = {
      url: 'redis://127.0.0.1:6379',
      keyPrefix: 'core:',
      storageCache: false,
      cacheTtlMs: 1000,
      startWaitMs: 100,
    }
    // Without MindBus the mindbus switch has nothing to sign.
    expect(describeSigning(settings, redis, false)).toBe(
      'signed with k1 (1 key) on MQTT calls · replay store Redis',
    )
    expect(describeSigning(settings, undefined, true)).toBe(
      'signed with k1 (1 key) on MindBus, MQTT calls, unsigned MindBus messages accepted · replay store memory',
    )
    expect(
      describeSigning(
        resolveSigningSettings({
          keys: [{ id: 'k1', alg: 'hmac-sha256', secret }],
          mindbus: false,
          mqtt: { calls: false, events: false },
        }),
        undefined,
        true,
      ),
    ).toBe('signed with k1 (1 key) on nothing (every switch is off) · replay store memory')
    expect(describeSigning(undefined, undefined, true)).toBe(
      'messages unsigned (no "signing" section)',
    )
  })
})
