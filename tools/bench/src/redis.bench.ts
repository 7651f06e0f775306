/**
 * @core/redis (issue 12 §6), same run, alternating sides:
 * - state `set` through the Redis backend (an engine attached: one script per write, and the
 *   hub's stream reader running) vs a raw ioredis pipeline `SET` + `XADD MAXLEN ~` doing the
 *   same work, at concurrency 1 and 64 (target >= 0.6x);
 * - state `get` vs raw `GET` of a JSON string, concurrency 1 (target >= 0.7x) and 64;
 * - cross-hub change delivery: a set on hub A until hub B's watcher has it, one at a time,
 *   p50/p99 in ms;
 * - cached storage point get (a Redis hit) vs uncached SQLite and PostgreSQL point get, through
 *   `createStorage`, concurrency 1.
 *
 * Needs Redis at CORE_REDIS_URL or redis://127.0.0.1:6379 (PostgreSQL at CORE_DATABASE_URL or
 * postgres://postgres@127.0.0.1:5432/test for its part); without Redis the suite prints a
 * `skipped` line. Keys live under a random prefix, deleted at the end.
 *
 * Run: `npx tsx tools/bench/src/run.ts redis` (or `pnpm bench redis`).
 */
import { randomBytes } from 'node:crypto'
import { type StateChange, silentLogger } from '@core/contracts'
import { createEventBus } from '@core/event-bus'
import { createCachedStorageAdapter, createRedisStateBackend } from '@core/redis'
import { createStateEngine, type StateEngine } from '@core/state-engine'
import { createStorage, type Storage } from '@core/storage'
import { createPostgresAdapter } from '@core/storage-postgres'
import { createSqliteAdapter } from '@core/storage-sqlite'
import { Redis } from 'ioredis'
import { compare, emit, type Figure, type Operation, percentile, ratio } from './measure.js'

const REDIS_URL = process.env.CORE_REDIS_URL ?? 'redis://127.0.0.1:6379'
const PG_URL = process.env.CORE_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

export default async function redisBench(): Promise<void> {
  const raw = new Redis(REDIS_URL, { lazyConnect: true, retryStrategy: () => null })
  raw.on('error', () => {})
  try {
    await raw.connect()
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error)
    process.stdout.write(
      `${JSON.stringify({ suite: 'redis', skipped: `Redis unreachable (${reason}); start it with: redis-server --daemonize yes --port 6379 --bind 127.0.0.1` })}\n`,
    )
    return
  }
  const prefix = `core-bench:${randomBytes(4).toString('hex')}:`
  const hubs = [await hub(prefix)]
  try {
    await state(hubs[0]!.state, raw, prefix)
    // Hub B joins for the delivery part only: in a cluster its stream reader runs in another
    // process, so it would only add this process's cost to hub A's figures.
    hubs.push(await hub(prefix))
    await delivery(hubs[0]!.state, hubs[1]!.state)
    await cache(prefix)
  } finally {
    for (const h of hubs) await h.close()
    let cursor = '0'
    do {
      const [next, keys] = await raw.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
      cursor = next
      if (keys.length > 0) await raw.del(...keys)
    } while (cursor !== '0')
    raw.disconnect()
  }
}

async function hub(keyPrefix: string): Promise<{ state: StateEngine; close(): Promise<void> }> {
  const backend = createRedisStateBackend({ url: REDIS_URL, keyPrefix, logger: silentLogger })
  await backend.ready()
  const state = createStateEngine({ bus: createEventBus({ logger: silentLogger }), backend })
  while (backend.status().streamId === '') await new Promise((r) => setTimeout(r, 10))
  return {
    state,
    close: async () => {
      await state.close()
      await backend.close()
    },
  }
}

/** `op` run `n` at a time: one call of the result is `n` operations. */
function parallel(n: number, op: Operation): Operation {
  return () => Promise.all(Array.from({ length: n }, op))
}

/** Figures of `parallel` sides, turned back into operations per second. */
function times(n: number, figures: Record<string, Figure>): Record<string, Figure> {
  for (const figure of Object.values(figures)) {
    figure.ops_per_s *= n
    figure.concurrency = n
  }
  return figures
}

async function state(engine: StateEngine, raw: Redis, prefix: string): Promise<void> {
  const doc = (i: number): Record<string, unknown> => ({ on: i % 2 === 0, level: i % 100 })
  const stream = `${prefix}raw:changes`
  let c = 0
  let r = 0
  const coreSet: Operation = () => engine.set('bench', `light.${c++ % 1000}`, doc(c))
  const rawSet: Operation = () => {
    const n = r++
    const json = JSON.stringify(doc(n))
    return raw
      .pipeline()
      .set(`${prefix}raw:light.${n % 1000}`, json)
      .xadd(stream, 'MAXLEN', '~', 100_000, '*', 'k', `light.${n % 1000}`, 'v', json)
      .exec()
  }
  const set1 = await compare(
    { 'redis state set, c1': coreSet, 'raw ioredis SET + XADD pipeline, c1': rawSet },
    { batch: 1000, rounds: 7, warmup: 1 },
  )
  const set64 = times(
    64,
    await compare(
      {
        'redis state set, c64': parallel(64, coreSet),
        'raw ioredis SET + XADD pipeline, c64': parallel(64, rawSet),
      },
      { batch: 50, rounds: 7, warmup: 1 },
    ),
  )
  let g = 0
  let h = 0
  const coreGet: Operation = () => engine.get('bench', `light.${g++ % 1000}`)
  const rawGet: Operation = async () => {
    const text = await raw.get(`${prefix}raw:light.${h++ % 1000}`)
    return text === null ? undefined : JSON.parse(text)
  }
  const get1 = await compare(
    { 'redis state get, c1': coreGet, 'raw ioredis GET, c1': rawGet },
    { batch: 2000, rounds: 7, warmup: 1 },
  )
  const get64 = times(
    64,
    await compare(
      {
        'redis state get, c64': parallel(64, coreGet),
        'raw ioredis GET, c64': parallel(64, rawGet),
      },
      { batch: 100, rounds: 7, warmup: 1 },
    ),
  )
  for (const figures of [set1, set64, get1, get64])
    for (const figure of Object.values(figures)) emit(figure)
  const f = { ...set1, ...set64, ...get1, ...get64 } as Record<string, Figure>
  ratio(
    'state set / raw SET+XADD, c1',
    f['redis state set, c1']!,
    f['raw ioredis SET + XADD pipeline, c1']!,
    0.6,
  )
  ratio(
    'state set / raw SET+XADD, c64',
    f['redis state set, c64']!,
    f['raw ioredis SET + XADD pipeline, c64']!,
    0.6,
  )
  ratio('state get / raw GET, c1', f['redis state get, c1']!, f['raw ioredis GET, c1']!, 0.7)
  ratio('state get / raw GET, c64', f['redis state get, c64']!, f['raw ioredis GET, c64']!, 0.7)
}

async function delivery(a: StateEngine, b: StateEngine): Promise<void> {
  let wake: ((change: StateChange) => void) | undefined
  b.watch('latency', '#', (change) => wake?.(change))
  const samples: number[] = []
  for (let i = 0; i < 2_200; i++) {
    const seen = new Promise<StateChange>((resolve) => {
      wake = resolve
    })
    const start = process.hrtime.bigint()
    await a.set('latency', 'probe', i)
    await seen
    if (i >= 200) samples.push(Number(process.hrtime.bigint() - start) / 1e6)
  }
  const round = (ms: number): number => Math.round(ms * 1000) / 1000
  process.stdout.write(
    `${JSON.stringify({
      name: 'cross-hub change delivery (set on hub A → watcher on hub B)',
      p50_ms: round(percentile(samples, 50)),
      p99_ms: round(percentile(samples, 99)),
      samples: samples.length,
    })}\n`,
  )
}

async function cache(prefix: string): Promise<void> {
  const docs = Array.from({ length: 1_000 }, (_, i) => ({
    op: 'set' as const,
    key: `doc.${i}`,
    value: { name: `device ${i}`, level: i % 100, room: `room-${i % 10}` },
  }))
  const stores: Record<string, Storage> = {
    'sqlite point get': createStorage(await createSqliteAdapter({ filename: ':memory:' })),
    'cached sqlite point get (Redis hit)': createStorage(
      await createCachedStorageAdapter(await createSqliteAdapter({ filename: ':memory:' }), {
        redis: REDIS_URL,
        keyPrefix: `${prefix}sqlite:`,
      }),
    ),
  }
  const schemas: string[] = []
  let pg = false
  try {
    const schema = () => {
      const name = `core_bench_${randomBytes(4).toString('hex')}`
      schemas.push(name)
      return name
    }
    stores['postgres point get'] = createStorage(
      await createPostgresAdapter({ url: PG_URL, schema: schema(), max: 1 }),
    )
    stores['cached postgres point get (Redis hit)'] = createStorage(
      await createCachedStorageAdapter(
        await createPostgresAdapter({ url: PG_URL, schema: schema(), max: 1 }),
        { redis: REDIS_URL, keyPrefix: `${prefix}pg:` },
      ),
    )
    pg = true
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error)
    process.stdout.write(`${JSON.stringify({ skipped: `PostgreSQL part: ${reason}` })}\n`)
  }
  try {
    for (const storage of Object.values(stores)) {
      await storage.batch('bench', docs)
      for (const { key } of docs) await storage.get('bench', key)
    }
    const sides: Record<string, Operation> = {}
    for (const [name, storage] of Object.entries(stores)) {
      let i = 0
      sides[name] = () => {
        i = (i + 7) % 1_000
        return storage.get('bench', `doc.${i}`)
      }
    }
    const figures = await compare(sides, { batch: 2000, rounds: 7, warmup: 1 })
    for (const figure of Object.values(figures)) emit(figure)
    ratio(
      'cached sqlite get / sqlite get',
      figures['cached sqlite point get (Redis hit)']!,
      figures['sqlite point get']!,
    )
    if (pg) {
      ratio(
        'cached postgres get / postgres get',
        figures['cached postgres point get (Redis hit)']!,
        figures['postgres point get']!,
      )
    }
  } finally {
    for (const storage of Object.values(stores)) await storage.close()
    if (schemas.length > 0) {
      const { default: postgres } = await import('postgres')
      const sql = postgres(PG_URL, { max: 1, onnotice: () => {} })
      for (const name of schemas) await sql.unsafe(`drop schema if exists "${name}" cascade`)
      await sql.end({ timeout: 5 })
    }
  }
}
