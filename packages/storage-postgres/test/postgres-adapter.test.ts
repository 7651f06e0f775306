import { CoreError, type CoreErrorCode } from '@core/contracts'
import type { StorageAdapter } from '@core/storage'
import { afterEach, describe, expect, it } from 'vitest'
import * as api from '../src/index.js'
import { createPostgresAdapter } from '../src/index.js'
import { buildList, buildQuery, buildStatements } from '../src/statements.js'
import { adminSql, describeWithServer, freshSchema, TEST_URL } from './postgres-server.js'

async function rejection(run: () => Promise<unknown>, code: CoreErrorCode): Promise<CoreError> {
  let caught: unknown
  try {
    await run()
  } catch (error) {
    caught = error
  }
  if (!CoreError.is(caught, code)) {
    throw new Error(
      `expected CoreError ${code}, got ${CoreError.is(caught) ? `${caught.code}: ${caught.message}` : String(caught)}`,
    )
  }
  return caught
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void
  const promise = new Promise<void>((r) => {
    resolve = r
  })
  return { promise, resolve }
}

describe('createPostgresAdapter options', () => {
  it('exports createPostgresAdapter only', () => {
    expect(Object.keys(api).sort()).toMatchInlineSnapshot(`
      [
        "createPostgresAdapter",
      ]
    `)
  })

  it('refuses to start without a URL and says to set CORE_DATABASE_URL', async () => {
    const saved = process.env.CORE_DATABASE_URL
    delete process.env.CORE_DATABASE_URL
    try {
      const error = await rejection(() => createPostgresAdapter(), 'E_VALIDATION')
      expect(error.message).toMatch(/CORE_DATABASE_URL/)
    } finally {
      if (saved !== undefined) process.env.CORE_DATABASE_URL = saved
    }
  })

  it('refuses a malformed URL without echoing it (it may hold a password)', async () => {
    const error = await rejection(
      () => createPostgresAdapter({ url: 'mysql://root:s3cret@db/x' }),
      'E_VALIDATION',
    )
    expect(error.message).not.toContain('s3cret')
    expect(error.message).toMatch(/postgres:\/\//)
  })

  it('refuses a bad schema, pool size or connect timeout with E_VALIDATION', async () => {
    const url = 'postgres://postgres@127.0.0.1:1/test'
    for (const schema of ['', 'a-b', 'x'.repeat(64), 'public"; drop schema public; --', '1abc']) {
      const error = await rejection(() => createPostgresAdapter({ url, schema }), 'E_VALIDATION')
      expect(error.message).toMatch(/Invalid schema/)
    }
    for (const max of [0, 1.5, 1001, Number.NaN]) {
      await rejection(() => createPostgresAdapter({ url, max }), 'E_VALIDATION')
    }
    await rejection(() => createPostgresAdapter({ url, connectTimeoutMs: 0 }), 'E_VALIDATION')
  })

  it('rejects with E_STORAGE naming the server when nothing listens there', async () => {
    const error = await rejection(
      () => createPostgresAdapter({ url: 'postgres://postgres:s3cret@127.0.0.1:1/test' }),
      'E_STORAGE',
    )
    expect(error.message).toMatch(/PostgreSQL at 127\.0\.0\.1:1\/test is unreachable/)
    expect(error.message).not.toContain('s3cret')
    expect(error.cause).toMatchObject({ code: 'ECONNREFUSED' })
  })
})

describeWithServer('postgres adapter on a real server', () => {
  const open: StorageAdapter[] = []
  const make = async (schema = freshSchema()): Promise<StorageAdapter> => {
    const adapter = await createPostgresAdapter({ url: TEST_URL, schema, max: 4 })
    open.push(adapter)
    return adapter
  }
  afterEach(async () => {
    await Promise.all(open.splice(0).map((a) => a.close()))
  })

  it('reads the URL from CORE_DATABASE_URL when no url is given', async () => {
    const saved = process.env.CORE_DATABASE_URL
    process.env.CORE_DATABASE_URL = TEST_URL
    try {
      const adapter = await createPostgresAdapter({ schema: freshSchema(), max: 1 })
      open.push(adapter)
      await adapter.set('app', 'k', '1')
      expect(await adapter.get('app', 'k')).toBe('1')
    } finally {
      if (saved === undefined) delete process.env.CORE_DATABASE_URL
      else process.env.CORE_DATABASE_URL = saved
    }
  })

  it('keeps stores in different schemas apart', async () => {
    const a = await make()
    const b = await make()
    await a.set('app', 'k', '"in a"')
    expect(await b.get('app', 'k')).toBeUndefined()
    expect(await a.get('app', 'k')).toBe('"in a"')
  })

  it('names itself to the server as core-storage-postgres', async () => {
    const schema = freshSchema()
    const adapter = await make(schema)
    await adapter.get('app', 'k')
    const rows =
      await adminSql()`select count(*)::int as n from pg_stat_activity where application_name = 'core-storage-postgres'`
    expect(rows[0]?.n).toBeGreaterThan(0)
  })

  it('serves get, list and count from the primary key and equality queries from the GIN index', async () => {
    const schema = freshSchema()
    const adapter = await make(schema)
    await adapter.batch(
      'app',
      Array.from({ length: 2000 }, (_, i) => ({
        op: 'set' as const,
        key: `room.${String(i).padStart(4, '0')}`,
        json: JSON.stringify({ kind: i % 100 === 0 ? 'lamp' : 'other', level: i }),
      })),
    )
    const sql = adminSql()
    await sql.unsafe(`analyze "${schema}".core_documents`)
    const s = buildStatements(schema)
    const plan = async (text: string, params: unknown[]): Promise<string> =>
      sql.begin(async (tx) => {
        await tx.unsafe('set local enable_seqscan = off')
        const rows = await tx.unsafe(`explain ${text}`, params as never[])
        return rows.map((r) => Object.values(r)[0]).join('\n')
      }) as Promise<string>
    expect(await plan(s.get, ['app', 'room.0001'])).toMatch(/Index Scan using core_documents_pkey/)
    const list = buildList(schema, 'app', { prefix: 'room.00', after: 'room.0010', limit: 10 })
    expect(await plan(list.text, list.params)).toMatch(
      /Index Scan using core_documents_pkey[\s\S]*key >=[\s\S]*key </,
    )
    expect(await plan(s.countRange, ['app', 'room.0', 'room.1'])).toMatch(/core_documents_pkey/)
    const query = buildQuery(schema, 'app', {
      where: [{ path: ['kind'], op: 'eq', value: 'lamp' }],
      limit: 100,
    })
    expect(await plan(query.text, query.params)).toMatch(
      /Bitmap Index Scan on core_documents_value_gin/,
    )
    expect(
      (
        await adapter.query('app', {
          where: [{ path: ['kind'], op: 'eq', value: 'lamp' }],
          limit: 100,
        })
      ).length,
    ).toBe(20)
  })

  it('aborts one of two deadlocked transactions with E_CONFLICT and commits the other', async () => {
    const adapter = await make()
    await adapter.batch('app', [
      { op: 'set', key: 'k1', json: '0' },
      { op: 'set', key: 'k2', json: '0' },
    ])
    const aHolds = deferred()
    const bHolds = deferred()
    const run = (first: string, second: string, holds: () => void, other: Promise<void>) =>
      adapter.transaction(async (tx) => {
        await tx.get('app', first)
        holds()
        await other
        await tx.get('app', second)
        await tx.set('app', first, '1')
        await tx.set('app', second, '1')
        return 'committed'
      })
    const results = await Promise.allSettled([
      run('k1', 'k2', aHolds.resolve, bHolds.promise),
      run('k2', 'k1', bHolds.resolve, aHolds.promise),
    ])
    const fulfilled = results.filter((r) => r.status === 'fulfilled')
    const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected')
    expect(fulfilled).toHaveLength(1)
    expect(rejected).toHaveLength(1)
    expect(CoreError.is(rejected[0]?.reason, 'E_CONFLICT')).toBe(true)
    expect(rejected[0]?.reason.details).toMatchObject({ sqlstate: '40P01' })
    expect(await adapter.get('app', 'k1')).toBe('1')
  })

  it('rolls a transaction back when an operation inside it failed, even if the function caught it', async () => {
    const adapter = await make()
    const error = await rejection(
      () =>
        adapter.transaction(async (tx) => {
          await tx.set('app', 'a', '1')
          await tx.set('app', 'b', '{not json').catch(() => {})
          return 'swallowed'
        }),
      'E_STORAGE',
    )
    expect(error.message).toMatch(/run a transaction/)
    expect(await adapter.get('app', 'a')).toBeUndefined()
  })

  it('undoes only a failed batch inside a transaction and lets the transaction commit', async () => {
    const adapter = await make()
    await adapter.transaction(async (tx) => {
      await tx.set('app', 'before', '1')
      const error = await rejection(
        () =>
          tx.batch('app', [
            { op: 'set', key: 'in-batch', json: '2' },
            { op: 'set', key: 'broken', json: '{not json' },
          ]),
        'E_STORAGE',
      )
      expect(error.message).toMatch(/batch in namespace "app"/)
      await tx.set('app', 'after', '3')
    })
    expect(await adapter.get('app', 'before')).toBe('1')
    expect(await adapter.get('app', 'after')).toBe('3')
    expect(await adapter.has('app', 'in-batch')).toBe(false)
    expect(await adapter.has('app', 'broken')).toBe(false)
  })

  it('serves other callers from the pool while a transaction holds a row', async () => {
    const adapter = await make()
    await adapter.set('app', 'k', '"old"')
    const inside = deferred()
    const release = deferred()
    const tx = adapter.transaction(async (t) => {
      await t.get('app', 'k')
      await t.set('app', 'k', '"new"')
      inside.resolve()
      await release.promise
    })
    await inside.promise
    expect(await adapter.get('app', 'k')).toBe('"old"')
    expect(await adapter.count('app', '')).toBe(1)
    release.resolve()
    await tx
    expect(await adapter.get('app', 'k')).toBe('"new"')
  })

  it('applies the last operation per key when a batch names a key twice', async () => {
    const adapter = await make()
    await adapter.set('app', 'gone', '0')
    await adapter.batch('app', [
      { op: 'set', key: 'a', json: '1' },
      { op: 'delete', key: 'a' },
      { op: 'delete', key: 'gone' },
      { op: 'set', key: 'gone', json: '2' },
      { op: 'set', key: 'b', json: '1' },
      { op: 'set', key: 'b', json: '3' },
    ])
    expect(await adapter.has('app', 'a')).toBe(false)
    expect(await adapter.get('app', 'gone')).toBe('2')
    expect(await adapter.get('app', 'b')).toBe('3')
  })
})
