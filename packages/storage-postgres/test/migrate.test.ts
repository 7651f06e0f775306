import { readFileSync } from 'node:fs'
import { CoreError } from '@core/contracts'
import { describe, expect, it } from 'vitest'
import { createPostgresAdapter } from '../src/index.js'
import {
  applyMigrations,
  MIGRATIONS_FOLDER,
  type Migration,
  readMigrations,
} from '../src/migrate.js'
import { adminSql, describeWithServer, freshSchema, TEST_URL } from './postgres-server.js'

const shipped = readMigrations()

async function tables(schema: string): Promise<string[]> {
  const rows = await adminSql()<{ table_name: string }[]>`
    select table_name from information_schema.tables where table_schema = ${schema} order by table_name`
  return rows.map((r) => r.table_name)
}

async function recorded(schema: string): Promise<{ tag: string; hash: string }[]> {
  return adminSql().unsafe(
    `select tag, hash from "${schema}".core_migrations order by id`,
  ) as Promise<{ tag: string; hash: string }[]>
}

async function caught(run: () => Promise<unknown>): Promise<unknown> {
  try {
    await run()
  } catch (error) {
    return error
  }
  throw new Error('expected a rejection')
}

describe('readMigrations', () => {
  it('reads the committed drizzle-kit migrations in journal order, split at statement breakpoints', () => {
    const journal = JSON.parse(
      readFileSync(new URL('meta/_journal.json', MIGRATIONS_FOLDER), 'utf8'),
    )
    expect(shipped.map((m) => m.tag)).toEqual(journal.entries.map((e: { tag: string }) => e.tag))
    expect(shipped.length).toBeGreaterThan(0)
    for (const m of shipped) {
      expect(m.hash).toMatch(/^[0-9a-f]{64}$/)
      expect(m.statements.length).toBeGreaterThan(0)
      expect(m.statements.join('\n')).not.toContain('statement-breakpoint')
    }
    expect(shipped[0]?.statements.join('\n')).toMatch(/CREATE TABLE "core_documents"/)
  })

  it('ships the migrations folder with the package', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
    expect(pkg.files).toEqual(
      expect.arrayContaining(['drizzle/*.sql', 'drizzle/meta/_journal.json']),
    )
  })

  it('refuses a folder without a journal with E_STORAGE', () => {
    const error = (() => {
      try {
        readMigrations(new URL('./no-such-folder/', import.meta.url))
      } catch (e) {
        return e
      }
    })()
    expect(CoreError.is(error, 'E_STORAGE')).toBe(true)
    expect((error as Error).message).toMatch(/journal/)
  })
})

describeWithServer('migrations on a real server', () => {
  it('creates the schema, the tables and the indexes on open, and records every migration', async () => {
    const schema = freshSchema()
    const adapter = await createPostgresAdapter({ url: TEST_URL, schema, max: 1 })
    await adapter.close()
    expect(await tables(schema)).toEqual([
      'core_documents',
      'core_migrations',
      'core_schema_versions',
    ])
    expect(await recorded(schema)).toEqual(shipped.map((m) => ({ tag: m.tag, hash: m.hash })))
    const indexes = await adminSql()<{ indexname: string; indexdef: string }[]>`
      select indexname, indexdef from pg_indexes where schemaname = ${schema} and tablename = 'core_documents'`
    const defs = Object.fromEntries(indexes.map((i) => [i.indexname, i.indexdef]))
    expect(defs.core_documents_pkey).toMatch(/btree \(namespace, key\)/)
    expect(defs.core_documents_value_gin).toMatch(/gin \(value jsonb_path_ops\)/)
    const collations = await adminSql()<{ column_name: string; collation_name: string }[]>`
      select column_name, collation_name from information_schema.columns
      where table_schema = ${schema} and table_name = 'core_documents' and collation_name is not null`
    expect(collations.map((c) => [c.column_name, c.collation_name]).sort()).toEqual([
      ['key', 'C'],
      ['namespace', 'C'],
    ])
  })

  it('does nothing the second time and keeps the data', async () => {
    const schema = freshSchema()
    const first = await createPostgresAdapter({ url: TEST_URL, schema, max: 1 })
    await first.set('app', 'k', '{"v":1}')
    await first.close()
    const second = await createPostgresAdapter({ url: TEST_URL, schema, max: 1 })
    expect(await second.get('app', 'k')).toBe('{"v": 1}')
    await second.close()
    const sql = adminSql()
    expect(await applyMigrations(sql, schema)).toEqual({ applied: [] })
    expect(await recorded(schema)).toHaveLength(shipped.length)
  })

  it('applies each migration once when several openers race on one schema', async () => {
    const schema = freshSchema()
    const results = await Promise.all(
      Array.from({ length: 4 }, () => applyMigrations(adminSql(), schema)),
    )
    expect(results.flatMap((r) => r.applied)).toEqual(shipped.map((m) => m.tag))
    const adapters = await Promise.all(
      Array.from({ length: 4 }, () => createPostgresAdapter({ url: TEST_URL, schema, max: 1 })),
    )
    await Promise.all(adapters.map((a) => a.close()))
    expect(await recorded(schema)).toHaveLength(shipped.length)
  })

  it('waits for another opener holding the migration lock, and fails cleanly if cut off meanwhile', async () => {
    const schema = freshSchema()
    const holder = await adminSql().reserve()
    try {
      await holder`select pg_advisory_lock(${0x436f7265}::int4, hashtext(${schema}))`
      const opening = createPostgresAdapter({ url: TEST_URL, schema, max: 1 }).then(
        async (adapter) => {
          await adapter.close()
          return undefined
        },
        (error: unknown) => error,
      )
      let pid: number | undefined
      for (let i = 0; i < 200 && pid === undefined; i++) {
        // The backend waiting for this schema's migration lock (classid 'Core', objid hashtext).
        const rows = await adminSql()<{ pid: number }[]>`
          select pid from pg_locks
          where locktype = 'advisory' and not granted and classid::bigint = ${0x436f7265}
            and objid::bigint = (hashtext(${schema})::bigint & 4294967295)`
        pid = rows[0]?.pid
        if (pid === undefined) await new Promise((resolve) => setTimeout(resolve, 25))
      }
      expect(pid).toBeDefined()
      expect(await tables(schema)).toEqual([])
      await adminSql()`select pg_terminate_backend(${pid ?? 0})`
      const error = await opening
      expect(CoreError.is(error, 'E_STORAGE')).toBe(true)
      expect((error as CoreError).message).toMatch(/closed the connection during open schema/)
    } finally {
      await holder`select pg_advisory_unlock_all()`
      holder.release()
    }
    expect(await tables(schema)).toEqual([])
  })

  it('rolls a failing run back whole: no table, no record, not even the schema', async () => {
    const schema = freshSchema()
    const broken: Migration[] = [
      ...shipped,
      {
        tag: '9000_good',
        hash: 'a'.repeat(64),
        createdAt: 1,
        statements: ['create table extra_good (id int)'],
      },
      {
        tag: '9001_bad',
        hash: 'b'.repeat(64),
        createdAt: 2,
        statements: ['create table extra_bad (id int)', 'select 1/0'],
      },
    ]
    const error = await caught(() => applyMigrations(adminSql(), schema, broken))
    expect(CoreError.is(error, 'E_STORAGE')).toBe(true)
    expect((error as CoreError).message).toMatch(/9001_bad failed at statement 2 of 2/)
    expect((error as CoreError).cause).toMatchObject({ code: '22012' })
    expect(await tables(schema)).toEqual([])
  })

  it('keeps earlier runs when a later migration fails, and applies nothing of the failing run', async () => {
    const schema = freshSchema()
    await applyMigrations(adminSql(), schema)
    const broken: Migration[] = [
      ...shipped,
      {
        tag: '9000_good',
        hash: 'a'.repeat(64),
        createdAt: 1,
        statements: ['create table extra_good (id int)'],
      },
      {
        tag: '9001_bad',
        hash: 'b'.repeat(64),
        createdAt: 2,
        statements: ['alter table no_such_table add column x int'],
      },
    ]
    expect(
      CoreError.is(await caught(() => applyMigrations(adminSql(), schema, broken)), 'E_STORAGE'),
    ).toBe(true)
    expect(await tables(schema)).toEqual([
      'core_documents',
      'core_migrations',
      'core_schema_versions',
    ])
    expect(await recorded(schema)).toHaveLength(shipped.length)
    // Fixed, the same run goes through.
    const fixed = broken.map((m) => (m.tag === '9001_bad' ? { ...m, statements: ['select 1'] } : m))
    expect(await applyMigrations(adminSql(), schema, fixed)).toEqual({
      applied: ['9000_good', '9001_bad'],
    })
    expect(await tables(schema)).toContain('extra_good')
  })

  it('refuses a schema migrated by a newer version, touching nothing', async () => {
    const schema = freshSchema()
    const newer: Migration[] = [
      ...shipped,
      {
        tag: '9999_future',
        hash: 'f'.repeat(64),
        createdAt: 3,
        statements: ['create table future (id int)'],
      },
    ]
    await applyMigrations(adminSql(), schema, newer)
    const error = await caught(() => createPostgresAdapter({ url: TEST_URL, schema, max: 1 }))
    expect(CoreError.is(error, 'E_STORAGE')).toBe(true)
    expect((error as CoreError).message).toMatch(/9999_future.*newer version/)
    expect(await recorded(schema)).toHaveLength(shipped.length + 1)
  })

  it('refuses a recorded migration whose shipped file changed', async () => {
    const schema = freshSchema()
    await applyMigrations(adminSql(), schema)
    const changed = shipped.map((m, i) => (i === 0 ? { ...m, hash: '0'.repeat(64) } : m))
    const error = await caught(() => applyMigrations(adminSql(), schema, changed))
    expect(CoreError.is(error, 'E_STORAGE')).toBe(true)
    expect((error as CoreError).message).toMatch(/hash mismatch/)
  })
})
