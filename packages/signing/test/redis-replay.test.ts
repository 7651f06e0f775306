import { expect, it } from 'vitest'
import { adminRedis, describeWithRedis, freshPrefix } from '../../redis/test/redis-server.js'
import { createRedisReplayStore, createSigner, createVerifier } from '../src/index.js'

const KEY = {
  id: 'k1',
  algorithm: 'hmac-sha256',
  secret: '0123456789abcdef0123456789abcdef0123456789abcdef',
} as const

describeWithRedis('replay store on Redis', () => {
  it('catches a message replayed to another hub, and of concurrent copies accepts one', async () => {
    const redis = adminRedis()
    const keyPrefix = freshPrefix()
    const hub = () =>
      createVerifier({ keys: [KEY], replay: createRedisReplayStore({ redis, keyPrefix }) })
    const [a, b, c] = [hub(), hub(), hub()]
    const signer = createSigner({ keys: [KEY], keyId: 'k1' })
    const signed = signer.sign({
      specversion: '1.0',
      id: 'cmd-1',
      source: '/hubs/x',
      type: 'x.y',
      time: new Date().toISOString(),
      data: { n: 1 },
    })
    await expect(a.verify(signed)).resolves.toMatchObject({ keyId: 'k1' })
    await expect(b.verify(signed)).rejects.toMatchObject({ details: { reason: 'replayed' } })

    const copy = signer.sign({ ...signed, id: 'cmd-2' })
    const outcomes = await Promise.allSettled([a, b, c].map((v) => v.verify(copy)))
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1)
    // The pair expires with the window (300 s by default, counted from the event's time).
    const ttl = await redis.pttl(`${keyPrefix}/hubs/x\u0000cmd-2`)
    expect(ttl).toBeGreaterThan(290_000)
    expect(ttl).toBeLessThanOrEqual(300_001)
  })
})
