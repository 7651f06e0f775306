/**
 * @core/signing: what signing and verifying cost per message (issue 13 §3), measured in this run
 * against the bare work underneath — one HMAC-SHA256 over `JSON.stringify` of the envelope, and one
 * Ed25519 sign/verify of the same bytes — so the ratios show the price of the canonical form
 * (RFC 8785), the checks and the replay store.
 *
 * Run: `npx tsx tools/bench/src/run.ts signing` (or `pnpm bench signing`).
 */
import { createHmac, generateKeyPairSync, sign, verify } from 'node:crypto'
import {
  createMemoryReplayStore,
  createSigner,
  createVerifier,
  type SigningKey,
} from '@core/signing'
import { compare, emit, type Figure, ratio } from './measure.js'

export default async function signingBench(): Promise<void> {
  const secret = '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef'
  const { publicKey, privateKey } = generateKeyPairSync('ed25519')
  const keys: SigningKey[] = [
    { id: 'h', algorithm: 'hmac-sha256', secret },
    {
      id: 'e',
      algorithm: 'ed25519',
      publicKey: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
      privateKey: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    },
  ]
  const hmacSigner = createSigner({ keys, keyId: 'h' })
  const edSigner = createSigner({ keys, keyId: 'e' })
  // A window and store sized for the run: every message is new (ids count up).
  const verifier = createVerifier({
    keys,
    replay: createMemoryReplayStore({ maxEntries: 200_000 }),
  })
  let n = 0
  const envelope = () => ({
    specversion: '1.0',
    id: `m-${n++}`,
    source: '/hubs/a',
    type: 'zigbee2mqtt.kitchen_light.changed',
    time: new Date().toISOString(),
    datacontenttype: 'application/json',
    data: { state: 'ON', brightness: 180, color_temp: 370, linkquality: 87 },
  })

  const f = await compare(
    {
      'signing hmac-sha256 sign+verify': () => verifier.verify(hmacSigner.sign(envelope())),
      'bare hmac-sha256 over JSON.stringify, twice': () => {
        const text = JSON.stringify(envelope())
        createHmac('sha256', secret).update(text).digest('base64url')
        return createHmac('sha256', secret).update(text).digest('base64url')
      },
      'signing ed25519 sign+verify': () => verifier.verify(edSigner.sign(envelope())),
      'bare ed25519 sign+verify over JSON.stringify': () => {
        const bytes = Buffer.from(JSON.stringify(envelope()))
        return verify(null, bytes, publicKey, sign(null, bytes, privateKey))
      },
    },
    { batch: 2_000, rounds: 7, warmup: 2 },
  )
  for (const figure of Object.values(f)) emit(figure)
  ratio(
    'signing hmac sign+verify / bare hmac twice',
    f['signing hmac-sha256 sign+verify'] as Figure,
    f['bare hmac-sha256 over JSON.stringify, twice'] as Figure,
  )
  ratio(
    'signing ed25519 sign+verify / bare ed25519',
    f['signing ed25519 sign+verify'] as Figure,
    f['bare ed25519 sign+verify over JSON.stringify'] as Figure,
  )
  if (verifier.stats().accepted === 0) throw new Error('nothing verified: the benchmark is broken')
}
