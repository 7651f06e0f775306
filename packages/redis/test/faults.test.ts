import { type CoreError, type StateChange, silentLogger } from '@core/contracts'
import { createEventBus } from '@core/event-bus'
import { createStateEngine, type StateEngine } from '@core/state-engine'
import { Redis } from 'ioredis'
import { afterEach, expect, it, vi } from 'vitest'
import { createRedisStateBackend, type RedisStateBackend } from '../src/index.js'
import {
  adminRedis,
  describeWithRedis,
  freshPrefix,
  type PrivateRedis,
  startPrivateRedis,
  TEST_REDIS_URL,
} from './redis-server.js'

interface Hub {
  state: StateEngine
  backend: RedisStateBackend
  seen: StateChange[]
}

const opened: Hub[] = []
const servers: PrivateRedis[] = []

async function hub(url: string, keyPrefix: string, sweepIntervalMs = 0): Promise<Hub> {
  const backend = createRedisStateBackend({
    url,
    keyPrefix,
    sweepIntervalMs,
    blockMs: 200,
    logger: silentLogger,
  })
  await backend.ready()
  const bus = createEventBus({ logger: silentLogger })
  const seen: StateChange[] = []
  bus.subscribe<StateChange>('state.#', (event) => {
    seen.push(event.data)
  })
  const state = createStateEngine({ bus, backend, logger: silentLogger })
  await vi.waitFor(() => expect(backend.status().streamId).not.toBe(''))
  const made = { state, backend, seen }
  opened.push(made)
  return made
}

afterEach(async () => {
  for (const h of opened.splice(0)) {
    await h.state.close()
    await h.backend.close()
  }
  for (const server of servers.splice(0)) await server.destroy()
})

const codeOf = (promise: Promise<unknown>): Promise<string | undefined> =>
  promise.then(
    () => undefined,
    (error: CoreError) => error.code,
  )

describeWithRedis('redis state backend faults', () => {
  it('reports a value under the prefix that is not JSON as E_STORAGE naming the key', async () => {
    const prefix = freshPrefix()
    const { state } = await hub(TEST_REDIS_URL, prefix)
    const admin = adminRedis()
    await admin.hset(`${prefix}state:v:lights:bad`, 'v', '{not json', 'r', '1', 'u', '1')
    await admin.zadd(`${prefix}state:i:lights`, 0, 'bad')
    await admin.set(`${prefix}state:v:lights:text`, 'hello')
    const bad = await state.get('lights', 'bad').catch((error: CoreError) => error)
    expect(bad).toMatchObject({ code: 'E_STORAGE' })
    expect((bad as CoreError).message).toContain(`${prefix}state:v:lights:bad`)
    expect(await codeOf(state.list('lights'))).toBe('E_STORAGE')
    const text = await state.set('lights', 'text', 1).catch((error: CoreError) => error)
    expect(text).toMatchObject({ code: 'E_STORAGE' })
    expect((text as CoreError).message).toContain(`${prefix}state:v:lights:text`)
    expect(await admin.get(`${prefix}state:v:lights:text`)).toBe('hello')
    // The engine goes on serving the other keys.
    await state.set('lights', 'good', true)
    expect((await state.get('lights', 'good'))?.value).toBe(true)
  })

  it('skips a stream entry it cannot read and goes on delivering', async () => {
    const prefix = freshPrefix()
    const a = await hub(TEST_REDIS_URL, prefix)
    const b = await hub(TEST_REDIS_URL, prefix)
    const admin = adminRedis()
    const next = await admin.incr(`${prefix}state:revision`)
    await admin.xadd(
      `${prefix}state:changes`,
      '*',
      'o',
      'x',
      'c',
      'set',
      'n',
      'lights',
      'k',
      'k',
      'r',
      next,
      'v',
      '{oops',
    )
    const written = await a.state.set('lights', 'after', 1)
    await vi.waitFor(() => expect(b.seen.map((c) => c.revision)).toEqual([written.revision]))
  })

  it('never touches keys outside its prefix', async () => {
    const prefix = freshPrefix()
    const admin = adminRedis()
    const base = prefix.slice(0, -1)
    const outside = [base, `${base}x:state:revision`, `${base}-state:v:lights:k`]
    for (const key of outside) await admin.set(key, 'mine')
    try {
      const { state } = await hub(TEST_REDIS_URL, prefix, 20)
      await state.set('lights', 'k', 1, { ttlMs: 30 })
      await state.set('lights', 'j', 2)
      await state.delete('lights', 'j')
      await state.list('lights')
      await vi.waitFor(async () => expect(await state.has('lights', 'k')).toBe(false))
      for (const key of outside) {
        expect(await admin.get(key)).toBe('mine')
        expect(await admin.pttl(key)).toBe(-1)
      }
    } finally {
      await admin.del(...outside)
    }
  })

  it('refuses calls at once with E_UNAVAILABLE while Redis is down, and recovers by itself', async () => {
    const server = await startPrivateRedis()
    servers.push(server)
    const a = await hub(server.url, 'core:', 50)
    const b = await hub(server.url, 'core:', 50)
    await a.state.set('lights', 'hall', 'before')
    await server.kill()
    await vi.waitFor(() => expect(a.backend.status().connected).toBe(false))
    expect(await codeOf(a.state.set('lights', 'hall', 'during'))).toBe('E_UNAVAILABLE')
    expect(await codeOf(a.state.get('lights', 'hall'))).toBe('E_UNAVAILABLE')
    expect(await codeOf(a.state.list('lights'))).toBe('E_UNAVAILABLE')
    await server.start()
    await vi.waitFor(() => expect(a.backend.status().connected).toBe(true), { timeout: 10_000 })
    // Without persistence the data is gone; the engines work again and see each other.
    const after = await a.state.set('lights', 'hall', 'after')
    await vi.waitFor(() => expect(b.seen.some((c) => c.revision === after.revision)).toBe(true), {
      timeout: 10_000,
    })
  })

  it('keeps every write acknowledged before Redis is killed (appendfsync always), and applies none by halves', async () => {
    const server = await startPrivateRedis(['--appendonly', 'yes', '--appendfsync', 'always'])
    servers.push(server)
    const { state, backend } = await hub(server.url, 'core:')
    const acknowledged = new Map<string, number>()
    const refused: string[] = []
    let next = 0
    const worker = async (): Promise<void> => {
      while (next < 10_000) {
        const key = `k${next++}`
        try {
          const entry = await state.set('load', key, { n: key })
          acknowledged.set(key, entry.revision)
        } catch (error) {
          refused.push(key)
          expect(['E_UNAVAILABLE', 'E_STORAGE']).toContain((error as CoreError).code)
        }
      }
    }
    const workers = Array.from({ length: 16 }, worker)
    await vi.waitFor(() => expect(acknowledged.size).toBeGreaterThan(3_000), { timeout: 15_000 })
    await server.kill()
    await vi.waitFor(() => expect(refused.length).toBeGreaterThan(0), { timeout: 10_000 })
    await server.start()
    await Promise.all(workers)
    await vi.waitFor(() => expect(backend.status().connected).toBe(true), { timeout: 10_000 })

    const check = new Redis(server.url)
    try {
      const pipeline = check.pipeline()
      for (const key of acknowledged.keys()) pipeline.hget(`core:state:v:load:${key}`, 'r')
      const revisions = ((await pipeline.exec()) ?? []).map(([, r]) => Number(r))
      expect(revisions).toEqual([...acknowledged.values()])
      // Nothing half-applied: the index lists exactly the entries that exist.
      const indexed = await check.zrange('core:state:i:load', 0, -1)
      const exists = check.pipeline()
      for (const key of indexed) exists.exists(`core:state:v:load:${key}`)
      const found = ((await exists.exec()) ?? []).map(([, n]) => n)
      expect(found.every((n) => n === 1)).toBe(true)
      expect(indexed.length).toBeGreaterThanOrEqual(acknowledged.size)
      // The counter survived: a new write gets a revision above every acknowledged one.
      const max = Math.max(...acknowledged.values())
      expect((await state.set('load', 'later', 1)).revision).toBeGreaterThan(max)
    } finally {
      check.disconnect()
    }
  }, 60_000)

  it('catches up after its stream connection drops, missing nothing', async () => {
    const prefix = freshPrefix()
    const a = await hub(TEST_REDIS_URL, prefix)
    const b = await hub(TEST_REDIS_URL, prefix)
    const admin = adminRedis()
    const writes: Promise<unknown>[] = []
    let kills = 0
    for (let i = 0; i < 200; i++) {
      writes.push(a.state.set('load', `k${i % 7}`, i))
      if (i % 50 === 25) {
        // Waits for the reader to be (back) on its connection, then drops that connection.
        const id = await vi.waitFor(async () => {
          const list = (await admin.call('CLIENT', 'LIST')) as string
          const line = list.split('\n').find((l) => l.includes(`core-state-stream-${b.backend.id}`))
          const found = /id=(\d+)/.exec(line ?? '')?.[1]
          expect(found).toBeDefined()
          return found as string
        })
        kills += Number(await admin.call('CLIENT', 'KILL', 'ID', id))
      }
    }
    await Promise.all(writes)
    expect(kills).toBe(4)
    const last = await a.state.set('load', 'end', true)
    await vi.waitFor(() => expect(b.seen.at(-1)?.revision).toBe(last.revision), { timeout: 10_000 })
    // The same changes on both buses, once each, and each key's in revision order.
    const sorted = (seen: StateChange[]): number[] =>
      seen.map((c) => c.revision).sort((x, y) => x - y)
    expect(sorted(b.seen)).toEqual(sorted(a.seen))
    expect(new Set(sorted(b.seen)).size).toBe(201)
    for (const hub of [a, b]) {
      for (let k = 0; k < 7; k++) {
        const perKey = hub.seen.filter((c) => c.key === `k${k}`).map((c) => c.revision)
        expect(perKey).toEqual([...perKey].sort((x, y) => x - y))
      }
    }
  })

  it('re-reads the keys when the stream was trimmed past its position', async () => {
    const prefix = freshPrefix()
    const b = await hub(TEST_REDIS_URL, prefix)
    const admin = adminRedis()
    // What a trimmed stream looks like to a reader: two revisions with no entry left.
    const r1 = await admin.incr(`${prefix}state:revision`)
    const r2 = await admin.incr(`${prefix}state:revision`)
    const r3 = await admin.incr(`${prefix}state:revision`)
    await admin.hset(`${prefix}state:v:lights:g1`, 'v', '"one"', 'r', r1, 'u', 1)
    await admin.hset(`${prefix}state:v:lights:g2`, 'v', '"two"', 'r', r2, 'u', 1)
    await admin.zadd(`${prefix}state:i:lights`, 0, 'g1', 0, 'g2')
    await admin.sadd(`${prefix}state:namespaces`, 'lights')
    await admin.xadd(
      `${prefix}state:changes`,
      '*',
      'o',
      'x',
      'c',
      'set',
      'n',
      'lights',
      'k',
      'g3',
      'r',
      r3,
      'v',
      '3',
    )
    await vi.waitFor(() =>
      expect(b.seen.map((c) => [c.key, c.revision, c.value])).toEqual([
        ['g1', r1, 'one'],
        ['g2', r2, 'two'],
        ['g3', r3, 3],
      ]),
    )
    expect(b.backend.status().gaps).toBe(1)
  })
})
