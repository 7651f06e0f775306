import type { CoreError } from '@core/contracts'
import { afterEach, expect, it } from 'vitest'
import { createRedisStateBackend, type RedisStateBackend } from '../src/index.js'
import { adminRedis, describeWithRedis, freshPrefix, TEST_REDIS_URL } from './redis-server.js'

const opened: RedisStateBackend[] = []

afterEach(async () => {
  for (const backend of opened.splice(0)) await backend.close()
})

async function open(): Promise<{ backend: RedisStateBackend; prefix: string }> {
  const prefix = freshPrefix()
  const backend = createRedisStateBackend({
    url: TEST_REDIS_URL,
    keyPrefix: prefix,
    sweepIntervalMs: 0,
  })
  opened.push(backend)
  await backend.ready()
  return { backend, prefix }
}

describeWithRedis('redis state backend: what it keeps in Redis', () => {
  it('drops the TTL, the deadline and expiresAt when a key is set again without a TTL', async () => {
    const { backend, prefix } = await open()
    const admin = adminRedis()
    const entry = `${prefix}state:v:lights:k`
    const now = Date.now()
    await backend.set('lights', 'k', 1, { now, expiresAt: now + 60_000 })
    expect(await admin.pttl(entry)).toBeGreaterThan(60_000)
    expect(await admin.zscore(`${prefix}state:deadlines`, 'lights:k')).toBe(String(now + 60_000))
    await backend.set('lights', 'k', 2, { now })
    expect(await admin.pttl(entry)).toBe(-1)
    expect(await admin.zscore(`${prefix}state:deadlines`, 'lights:k')).toBeNull()
    expect(await admin.hgetall(entry)).toEqual({ v: '2', r: '2', u: String(now) })
    expect(await backend.get('lights', 'k')).toEqual({ value: 2, revision: 2, updatedAt: now })
    expect(await admin.zrange(`${prefix}state:i:lights`, 0, -1)).toEqual(['k'])
  })

  it('refuses to write over a hash under the prefix that is not a state entry', async () => {
    const { backend, prefix } = await open()
    const admin = adminRedis()
    const foreign = `${prefix}state:v:lights:other`
    await admin.hset(foreign, 'owner', 'someone else')
    const refused = await Promise.resolve(
      backend.set('lights', 'other', 1, { now: Date.now() }),
    ).catch((error: CoreError) => error)
    expect(refused).toMatchObject({ code: 'E_STORAGE' })
    expect((refused as CoreError).message).toContain(foreign)
    expect(await admin.hgetall(foreign)).toEqual({ owner: 'someone else' })
  })

  it('answers reads sent together each with its own entry, a bad key failing only its own read', async () => {
    const { backend, prefix } = await open()
    const now = Date.now()
    for (let i = 0; i < 20; i++) await backend.set('lights', `k${i}`, { n: i }, { now })
    await adminRedis().hset(`${prefix}state:v:lights:bad`, 'v', '{oops', 'r', '99', 'u', '1')
    const reads = await Promise.allSettled([
      ...Array.from({ length: 20 }, (_, i) => backend.get('lights', `k${i}`)),
      backend.get('lights', 'bad'),
      backend.get('lights', 'absent'),
    ])
    expect(reads.slice(0, 20).map((r) => r.status === 'fulfilled' && r.value?.value)).toEqual(
      Array.from({ length: 20 }, (_, i) => ({ n: i })),
    )
    expect(reads[20]).toMatchObject({ status: 'rejected', reason: { code: 'E_STORAGE' } })
    expect(reads[21]).toEqual({ status: 'fulfilled', value: undefined })
  })
})
