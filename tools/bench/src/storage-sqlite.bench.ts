/**
 * @core/storage over @core/storage-sqlite against raw better-sqlite3 doing the same statements
 * on the same table layout (the adapter's drizzle-kit migration), same run, alternating sides.
 * Both sides: a file in a temp folder, WAL, synchronous=NORMAL, prepared statements, values
 * serialised with JSON.stringify and parsed with JSON.parse.
 *
 * Targets (issue 4, §8): batch of 10,000 sets >= 0.7x raw, point get >= 0.5x, single set >= 0.6x.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type BatchOp, createStorage } from '@core/storage'
import { createSqliteAdapter } from '@core/storage-sqlite'
import Database from 'better-sqlite3'
import { compare, emit, ratio } from './measure.js'

const DDL = fileURLToPath(
  new URL('../../../packages/storage-sqlite/drizzle/0000_initial.sql', import.meta.url),
)
const BATCH = 10_000

export default async function (): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-storage-sqlite-'))
  try {
    const storage = createStorage(await createSqliteAdapter({ filename: join(dir, 'core.db') }))
    const db = new Database(join(dir, 'raw.db'))
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = NORMAL')
    for (const statement of readFileSync(DDL, 'utf8').split('--> statement-breakpoint'))
      db.exec(statement)
    const upsert = db.prepare(
      'INSERT INTO core_storage_documents (namespace, key, doc) VALUES (?, ?, ?) ON CONFLICT (namespace, key) DO UPDATE SET doc = excluded.doc',
    )
    const select = db
      .prepare('SELECT doc FROM core_storage_documents WHERE namespace = ? AND key = ?')
      .pluck()
    const rawBatch = db.transaction((ns: string, ops: { key: string; value: unknown }[]) => {
      for (const op of ops) upsert.run(ns, op.key, JSON.stringify(op.value))
    })
    const doc = (i: number): Record<string, unknown> => ({
      name: `device ${i}`,
      kind: i % 3 === 0 ? 'lamp' : 'sensor',
      level: i % 100,
      room: `room-${i % 10}`,
      on: i % 2 === 0,
    })

    // --- single set (autocommit, a new key each time) ----------------------------------------
    let coreN = 0
    let rawN = 0
    const single = await compare(
      {
        'storage-sqlite set': () => storage.set('bench', `single.${coreN}`, doc(coreN++)),
        'raw better-sqlite3 set': () =>
          upsert.run('bench', `single.${rawN}`, JSON.stringify(doc(rawN++))),
      },
      { batch: 2000, rounds: 7, warmup: 1 },
    )

    // --- batch of 10,000 sets (one transaction; fresh keys for every timed batch) ------------
    const batches = (side: string): BatchOp[][] =>
      Array.from({ length: 12 }, (_, b) =>
        Array.from({ length: BATCH }, (_, i) => ({
          op: 'set' as const,
          key: `${side}.${b}.${i}`,
          value: doc(i),
        })),
      )
    const coreBatches = batches('core')
    const rawBatches = batches('raw') as { key: string; value: unknown }[][]
    // One call = one row: every 10,000th call writes the whole batch, so ops_per_s is rows/s.
    let cb = 0
    let rb = 0
    const batch = await compare(
      {
        'storage-sqlite batch 10k (rows)': () =>
          ++cb % BATCH === 0
            ? storage.batch('batch', coreBatches[(cb / BATCH) % coreBatches.length]!)
            : undefined,
        'raw better-sqlite3 batch 10k (rows)': () =>
          ++rb % BATCH === 0
            ? rawBatch('batch', rawBatches[(rb / BATCH) % rawBatches.length]!)
            : undefined,
      },
      { batch: BATCH, rounds: 9, warmup: 1 },
    )

    // --- point get (+ JSON.parse), 10,000 existing keys ---------------------------------------
    let g = 0
    const get = await compare(
      {
        'storage-sqlite get': () => storage.get('bench', `single.${g++ % 1000}`),
        'raw better-sqlite3 get': () =>
          JSON.parse(select.get('bench', `single.${g++ % 1000}`) as string),
      },
      { batch: 20_000, rounds: 7, warmup: 2 },
    )

    // --- a query: two conditions and an order over 1,000 documents, 10 results ---------------
    await storage.batch(
      'query',
      Array.from({ length: 1000 }, (_, i) => ({
        op: 'set' as const,
        key: `d.${i}`,
        value: doc(i),
      })),
    )
    rawBatch(
      'query',
      Array.from({ length: 1000 }, (_, i) => ({ key: `d.${i}`, value: doc(i) })),
    )
    // The statement @core/storage-sqlite compiles for this query (see src/query-sql.ts).
    const rawQuery = db.prepare(
      `SELECT key, doc AS json FROM core_storage_documents WHERE namespace = ? AND (json_type(doc, ?) = 'text' AND json_extract(doc, ?) IN (?)) AND (json_type(doc, ?) IN ('integer','real') AND json_extract(doc, ?) >= ?) ORDER BY CASE json_type(doc, ?) WHEN 'null' THEN 1 WHEN 'false' THEN 2 WHEN 'true' THEN 3 WHEN 'integer' THEN 4 WHEN 'real' THEN 4 WHEN 'text' THEN 5 WHEN 'array' THEN 6 WHEN 'object' THEN 6 ELSE 0 END DESC, CASE WHEN json_type(doc, ?) IN ('array','object') THEN NULL ELSE json_extract(doc, ?) END DESC, key ASC LIMIT ?`,
    )
    const query = await compare(
      {
        'storage-sqlite query': () =>
          storage.query('query', {
            where: { kind: 'lamp', level: { gte: 50 } },
            orderBy: { path: 'level', direction: 'desc' },
            limit: 10,
          }),
        'raw better-sqlite3 query': () =>
          (
            rawQuery.all(
              'query',
              '$."kind"',
              '$."kind"',
              'lamp',
              '$."level"',
              '$."level"',
              50,
              '$."level"',
              '$."level"',
              '$."level"',
              10,
            ) as { key: string; json: string }[]
          ).map((r) => ({ key: r.key, value: JSON.parse(r.json) as unknown })),
      },
      { batch: 100, rounds: 15, warmup: 1 },
    )

    for (const figures of [single, batch, get, query])
      for (const f of Object.values(figures)) emit(f)
    ratio(
      'single set vs raw',
      single['storage-sqlite set']!,
      single['raw better-sqlite3 set']!,
      0.6,
    )
    ratio(
      'batch 10k vs raw',
      batch['storage-sqlite batch 10k (rows)']!,
      batch['raw better-sqlite3 batch 10k (rows)']!,
      0.7,
    )
    ratio('point get vs raw', get['storage-sqlite get']!, get['raw better-sqlite3 get']!, 0.5)
    ratio('query vs raw', query['storage-sqlite query']!, query['raw better-sqlite3 query']!)
    await storage.close()
    db.close()
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
