/**
 * @core/storage over @core/storage-postgres against raw postgres.js doing the same statements
 * on the same table (the adapter's drizzle-kit migration, in a throw-away schema), same run,
 * alternating sides, concurrency 1 (each call awaited before the next):
 * - single set: an upsert of one document (`insert … on conflict do update`), a new key each time;
 * - batch of 10,000 sets: one `insert … select from unnest($keys, $json) on conflict …`
 *   statement (raw: the very same statement; also raw multi-row VALUES of 1,000 rows × 10 in one
 *   transaction, for reference);
 * - point get: `select value … where namespace = $1 and key = $2`, the document parsed;
 * - query: equality on a document field (`value @> …` on the GIN index, then exact equality at
 *   the path), 20 of 10,000 documents, by key.
 * Raw statements are prepared (postgres.js caches them per connection), as the adapter's are,
 * except the query, which neither side prepares.
 *
 * Targets (issue 4, §8): batch >= 0.7x raw, point get >= 0.5x, single set >= 0.6x.
 * Needs PostgreSQL at CORE_DATABASE_URL or postgres://postgres@127.0.0.1:5432/test; without it
 * the suite prints a `skipped` line and returns.
 *
 * Run: `npx tsx tools/bench/src/run.ts storage-postgres` (or `pnpm bench storage-postgres`).
 */
import { randomBytes } from 'node:crypto'
import { type BatchOp, createStorage } from '@core/storage'
import { createPostgresAdapter } from '@core/storage-postgres'
import postgres from 'postgres'
import { compare, emit, type Figure, type Operation, ratio } from './measure.js'

const URL = process.env.CORE_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const BATCH = 10_000

export default async function storagePostgresBench(): Promise<void> {
  const raw = postgres(URL, { max: 1, onnotice: () => {} })
  try {
    await raw`select 1`
  } catch (error) {
    await raw.end({ timeout: 0 })
    const reason = error instanceof Error ? error.message : String(error)
    process.stdout.write(
      `${JSON.stringify({ suite: 'storage-postgres', skipped: `PostgreSQL unreachable (${reason}); start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` })}\n`,
    )
    return
  }
  const schema = `core_bench_${randomBytes(4).toString('hex')}`
  // Concurrency 1 on both sides: one pooled connection for the adapter too.
  const adapter = await createPostgresAdapter({ url: URL, schema, max: 1 })
  const storage = createStorage(adapter)
  try {
    await run(storage, raw, `"${schema}".core_documents`)
  } finally {
    await storage.close()
    await raw.unsafe(`drop schema if exists "${schema}" cascade`)
    await raw.end({ timeout: 5 })
  }
}

async function run(
  storage: ReturnType<typeof createStorage>,
  sql: postgres.Sql,
  table: string,
): Promise<void> {
  const upsert = `insert into ${table} as d (namespace, key, value) values ($1, $2, $3::text::jsonb) on conflict (namespace, key) do update set value = excluded.value, updated_at = now()`
  const batchUpsert = `insert into ${table} as d (namespace, key, value) select $1, k, v::jsonb from unnest($2::text[], $3::text[]) as t(k, v) on conflict (namespace, key) do update set value = excluded.value, updated_at = now()`
  const select = `select value from ${table} where namespace = $1 and key = $2`
  const prepared = { prepare: true }
  const doc = (i: number): Record<string, unknown> => ({
    name: `device ${i}`,
    kind: i % 500 === 0 ? 'lamp' : 'sensor',
    level: i % 100,
    room: `room-${i % 10}`,
    on: i % 2 === 0,
  })

  // --- single set (autocommit, a new key each time) ------------------------------------------
  let coreN = 0
  let rawN = 0
  const single = await compare(
    {
      'storage-postgres set': () => storage.set('core', `single.${coreN}`, doc(coreN++)),
      'raw postgres.js upsert': () =>
        sql.unsafe(upsert, ['raw', `single.${rawN}`, JSON.stringify(doc(rawN++))], prepared),
    },
    { batch: 1000, rounds: 7, warmup: 1 },
  )

  // --- batch of 10,000 sets (fresh keys for every timed batch) -------------------------------
  const rounds = 9
  const warmup = 1
  const makeBatches = (side: string): BatchOp[][] =>
    Array.from({ length: rounds + warmup }, (_, b) =>
      Array.from({ length: BATCH }, (_, i) => ({
        op: 'set' as const,
        key: `${side}.${b}.${i}`,
        value: doc(i),
      })),
    )
  const coreBatches = makeBatches('batch')
  const rawBatches = makeBatches('raw')
  const valuesBatches = makeBatches('values')
  let cb = 0
  let rb = 0
  let vb = 0
  const batch = await compareRows(
    {
      'storage-postgres batch of 10,000 sets': () =>
        storage.batch('core', coreBatches[cb++ % coreBatches.length]!),
      'raw postgres.js same unnest upsert of 10,000': () => {
        const ops = rawBatches[rb++ % rawBatches.length]!
        const keys = ops.map((op) => op.key)
        const json = ops.map((op) => JSON.stringify((op as { value: unknown }).value))
        return sql.unsafe(batchUpsert, ['raw', keys, json] as never[], prepared)
      },
      'raw postgres.js multi-row VALUES 10 x 1,000 in a transaction': () => {
        const ops = valuesBatches[vb++ % valuesBatches.length]!
        return sql.begin(async (tx) => {
          for (let i = 0; i < ops.length; i += 1000) {
            const rows = ops.slice(i, i + 1000).map((op) => ({
              namespace: 'raw',
              key: op.key,
              value: (op as { value: unknown }).value as postgres.JSONValue,
            }))
            await tx`insert into ${tx(table.replaceAll('"', ''))} ${tx(rows)} on conflict (namespace, key) do update set value = excluded.value, updated_at = now()`
          }
        })
      },
    },
    BATCH,
    { rounds, warmup },
  )

  // --- point get and query over 10,000 documents per side -------------------------------------
  const seed = Array.from({ length: BATCH }, (_, i) => ({
    op: 'set' as const,
    key: `doc.${i}`,
    value: doc(i),
  }))
  await storage.batch('core', seed)
  await sql.unsafe(batchUpsert, [
    'raw',
    seed.map((s) => s.key),
    seed.map((s) => JSON.stringify(s.value)),
  ] as never[])
  await sql.unsafe(`analyze ${table}`)
  let gc = 0
  let gr = 0
  const get = await compare(
    {
      'storage-postgres get': () => {
        gc = (gc + 7919) % BATCH
        return storage.get('core', `doc.${gc}`)
      },
      'raw postgres.js select': async () => {
        gr = (gr + 7919) % BATCH
        return (await sql.unsafe(select, ['raw', `doc.${gr}`], prepared))[0]?.value
      },
    },
    { batch: 2000, rounds: 7, warmup: 1 },
  )
  // The adapter's statement for `{ kind: 'lamp' }`: GIN containment plus exact equality, not
  // prepared on either side (a prepared statement soon runs with a generic plan, which cannot see
  // the operand's selectivity and may walk the key index instead of the GIN index).
  const rawQuery = `select key, value from ${table} where namespace = $1 and value @> $2::text::jsonb and (value #> '{kind}') = $3::text::jsonb order by key limit $4::int8`
  const query = await compare(
    {
      'storage-postgres query kind = lamp, limit 20': () =>
        storage.query('core', { where: { kind: 'lamp' }, limit: 20 }),
      'raw postgres.js same select, limit 20': () =>
        sql.unsafe(rawQuery, ['raw', JSON.stringify({ kind: 'lamp' }), JSON.stringify('lamp'), 20]),
    },
    { batch: 500, rounds: 7, warmup: 1 },
  )
  const hits = await storage.query('core', { where: { kind: 'lamp' }, limit: 20 })
  if (hits.length !== 20)
    throw new Error(`the query found ${hits.length} documents, not 20: the benchmark is broken`)

  for (const figures of [single, batch, get, query])
    for (const figure of Object.values(figures)) emit(figure)
  const f = { ...single, ...batch, ...get, ...query } as Record<string, Figure>
  ratio('set / raw upsert', f['storage-postgres set']!, f['raw postgres.js upsert']!, 0.6)
  ratio(
    'batch of 10,000 / raw same statement',
    f['storage-postgres batch of 10,000 sets']!,
    f['raw postgres.js same unnest upsert of 10,000']!,
    0.7,
  )
  ratio(
    'batch of 10,000 / raw multi-row VALUES',
    f['storage-postgres batch of 10,000 sets']!,
    f['raw postgres.js multi-row VALUES 10 x 1,000 in a transaction']!,
  )
  ratio('get / raw select', f['storage-postgres get']!, f['raw postgres.js select']!, 0.5)
  ratio(
    'query / raw same select',
    f['storage-postgres query kind = lamp, limit 20']!,
    f['raw postgres.js same select, limit 20']!,
  )
}

/**
 * Like `compare`, for operations that each write `rows` rows and take a large part of a second:
 * alternates the sides round by round, times one operation per round, and reports the median
 * in rows per second (`ops_per_s` and `rows_per_s`), which `compare` would round to 2 or 3.
 */
async function compareRows(
  sides: Record<string, Operation>,
  rows: number,
  options: { rounds: number; warmup: number },
): Promise<Record<string, Figure>> {
  const names = Object.keys(sides)
  const rates: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]))
  for (let w = 0; w < options.warmup; w++) for (const n of names) await sides[n]!()
  for (let r = 0; r < options.rounds; r++) {
    for (const n of r % 2 === 0 ? names : [...names].reverse()) {
      const start = process.hrtime.bigint()
      await sides[n]!()
      rates[n]!.push((rows * 1e9) / Number(process.hrtime.bigint() - start))
    }
  }
  return Object.fromEntries(
    names.map((n) => {
      const sorted = [...rates[n]!].sort((a, b) => a - b)
      const median = sorted[sorted.length >> 1]!
      return [
        n,
        {
          name: n,
          ops_per_s: Math.round(median),
          rows_per_s: Math.round(median),
          samples: options.rounds,
        },
      ]
    }),
  )
}
