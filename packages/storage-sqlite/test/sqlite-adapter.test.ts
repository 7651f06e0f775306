import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { CoreError } from '@core/contracts'
import { createStorage } from '@core/storage'
import Database from 'better-sqlite3'
import { afterAll, describe, expect, it } from 'vitest'
import { createSqliteAdapter } from '../src/index.js'
import { applyMigrations, MIGRATIONS_TABLE } from '../src/migrate.js'

const dir = mkdtempSync(join(tmpdir(), 'core-storage-sqlite-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const shipped = fileURLToPath(new URL('../drizzle', import.meta.url))
let n = 0
const file = (): string => join(dir, `db-${n++}.db`)

async function rejection(promise: Promise<unknown>): Promise<CoreError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  if (!CoreError.is(error)) throw new Error(`expected a CoreError, got ${String(error)}`)
  return error
}

function raw(filename: string): Database.Database {
  return new Database(filename)
}

describe('createSqliteAdapter', () => {
  it('refuses bad options with E_VALIDATION', async () => {
    for (const options of [
      {},
      { filename: '' },
      { filename: ':memory:', synchronous: 'OFF' },
      { filename: ':memory:', busyTimeoutMs: -1 },
    ]) {
      const err = await rejection(createSqliteAdapter(options as never))
      expect(err.code).toBe('E_VALIDATION')
    }
  })

  it('creates the folder of the file, uses WAL, and keeps data across reopening', async () => {
    const filename = join(dir, 'nested', 'deeper', 'hub.db')
    const first = createStorage(await createSqliteAdapter({ filename }))
    expect(first.adapterName).toBe('sqlite')
    await first.set('lights', 'kitchen', { on: true })
    await first.setSchemaVersion('lights', 2)
    await first.close()
    const db = raw(filename)
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal')
    db.close()
    const second = createStorage(await createSqliteAdapter({ filename, synchronous: 'FULL' }))
    expect(await second.get('lights', 'kitchen')).toEqual({ on: true })
    expect(await second.schemaVersion('lights')).toBe(2)
    await second.close()
  })

  it('reports an unopenable file as E_STORAGE with the driver error as cause', async () => {
    const blocker = join(dir, 'a-file')
    writeFileSync(blocker, 'not a folder')
    const err = await rejection(createSqliteAdapter({ filename: join(blocker, 'x.db') }))
    expect(err.code).toBe('E_STORAGE')
    expect(err.cause).toBeInstanceOf(Error)
  })

  it('reports a driver failure during an operation as E_STORAGE with the SqliteError as cause', async () => {
    const filename = file()
    const storage = createStorage(await createSqliteAdapter({ filename }))
    await storage.set('app', 'k', 1)
    const db = raw(filename)
    db.exec('DROP TABLE core_storage_documents')
    db.close()
    const err = await rejection(storage.get('app', 'k'))
    expect(err.code).toBe('E_STORAGE')
    expect(err.message).toContain('"app"/"k"')
    expect((err.cause as { code?: string }).code).toBe('SQLITE_ERROR')
    await storage.close()
  })

  it('reports a corrupt stored document as E_STORAGE', async () => {
    const filename = file()
    const storage = createStorage(await createSqliteAdapter({ filename }))
    const db = raw(filename)
    db.prepare('INSERT INTO core_storage_documents (namespace, key, doc) VALUES (?, ?, ?)').run(
      'app',
      'bad',
      '{nope',
    )
    db.close()
    const err = await rejection(storage.get('app', 'bad'))
    expect(err.code).toBe('E_STORAGE')
    await storage.close()
  })

  it('stores values as JSON text, never interpreting SQL in them', async () => {
    const filename = file()
    const storage = createStorage(await createSqliteAdapter({ filename }))
    await storage.set(
      'app',
      "k';DROP_TABLE_core_storage_documents;--",
      "'); DROP TABLE core_storage_documents; --",
    )
    await storage.close()
    const db = raw(filename)
    const rows = db.prepare('SELECT key, doc FROM core_storage_documents').all()
    db.close()
    expect(rows).toEqual([
      {
        key: "k';DROP_TABLE_core_storage_documents;--",
        doc: JSON.stringify("'); DROP TABLE core_storage_documents; --"),
      },
    ])
  })
})

describe('the adapter’s own migrations', () => {
  it('applies the shipped migrations on open and records them', async () => {
    const filename = file()
    const storage = createStorage(await createSqliteAdapter({ filename }))
    await storage.close()
    const db = raw(filename)
    const recorded = db.prepare(`SELECT tag FROM ${MIGRATIONS_TABLE} ORDER BY id`).pluck().all()
    const tables = db
      .prepare(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`)
      .pluck()
      .all()
    db.close()
    const journal = JSON.parse(readFileSync(join(shipped, 'meta/_journal.json'), 'utf8')) as {
      entries: { tag: string }[]
    }
    expect(recorded).toEqual(journal.entries.map((e) => e.tag))
    expect(tables).toEqual([
      'core_storage_documents',
      'core_storage_migrations',
      'core_storage_schema_versions',
    ])
  })

  it('does nothing when run a second time', async () => {
    const filename = file()
    const db = raw(filename)
    const begin = async (): Promise<void> => {
      db.exec('BEGIN IMMEDIATE')
    }
    expect(await applyMigrations(db, shipped, begin)).toEqual(['0000_initial'])
    expect(await applyMigrations(db, shipped, begin)).toEqual([])
    expect(db.prepare(`SELECT count(*) FROM ${MIGRATIONS_TABLE}`).pluck().get()).toBe(1)
    db.close()
    await (await createSqliteAdapter({ filename })).close()
  })

  it('rolls back a failing migration whole, with every other pending one', async () => {
    const folder = join(dir, 'broken-migrations')
    cpSync(shipped, folder, { recursive: true })
    const journal = JSON.parse(readFileSync(join(folder, 'meta/_journal.json'), 'utf8')) as {
      entries: { idx: number; version: string; when: number; tag: string; breakpoints: boolean }[]
    }
    const last = journal.entries[journal.entries.length - 1]!
    journal.entries.push({ ...last, idx: last.idx + 1, when: last.when + 1, tag: '9999_broken' })
    writeFileSync(join(folder, 'meta/_journal.json'), JSON.stringify(journal))
    writeFileSync(
      join(folder, '9999_broken.sql'),
      'CREATE TABLE `half_done` (`id` integer);\n--> statement-breakpoint\nINSERT INTO `no_such_table` VALUES (1);',
    )
    const db = raw(file())
    const err = await rejection(
      applyMigrations(db, folder, async () => void db.exec('BEGIN IMMEDIATE')),
    )
    expect(err.code).toBe('E_STORAGE')
    expect(err.message).toContain('9999_broken')
    const tables = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).pluck().all()
    expect(tables).toEqual([])
    expect(db.inTransaction).toBe(false)
    db.close()
  })

  it('refuses a file migrated by a newer version of the adapter', async () => {
    const filename = file()
    await (await createSqliteAdapter({ filename })).close()
    const db = raw(filename)
    db.prepare(
      `INSERT INTO ${MIGRATIONS_TABLE} (tag, hash, created_at, applied_at) VALUES (?, ?, ?, ?)`,
    ).run('9999_from_the_future', 'x', 1, 1)
    db.close()
    const err = await rejection(createSqliteAdapter({ filename }))
    expect(err.code).toBe('E_STORAGE')
    expect(err.message).toMatch(/newer version/)
  })

  it('refuses a migration changed after it was applied', async () => {
    const filename = file()
    await (await createSqliteAdapter({ filename })).close()
    const db = raw(filename)
    db.exec(`UPDATE ${MIGRATIONS_TABLE} SET hash = 'edited'`)
    db.close()
    const err = await rejection(createSqliteAdapter({ filename }))
    expect(err.code).toBe('E_STORAGE')
    expect(err.message).toMatch(/changed after/)
  })

  it('ships the migrations folder with the package', () => {
    const pkg = JSON.parse(
      readFileSync(fileURLToPath(new URL('../package.json', import.meta.url)), 'utf8'),
    ) as {
      files: string[]
    }
    expect(pkg.files).toContain('drizzle')
    expect(existsSync(join(shipped, 'meta/_journal.json'))).toBe(true)
  })
})

describe('SQLITE_BUSY from another connection', () => {
  it('waits while another connection holds the write lock, then writes', async () => {
    const filename = file()
    const a = createStorage(await createSqliteAdapter({ filename }))
    const b = createStorage(await createSqliteAdapter({ filename, busyTimeoutMs: 5000 }))
    let release!: () => void
    const held = new Promise<void>((resolve) => {
      release = resolve
    })
    let entered!: () => void
    const inside = new Promise<void>((resolve) => {
      entered = resolve
    })
    const holder = a.transaction(async (tx) => {
      await tx.set('app', 'from-a', 1)
      entered()
      await held
    })
    await inside
    const waiting = b.set('app', 'from-b', 2)
    let settled = false
    void waiting.finally(() => {
      settled = true
    })
    await new Promise((resolve) => setTimeout(resolve, 30))
    expect(settled).toBe(false)
    release()
    await holder
    await waiting
    expect(await b.get('app', 'from-a')).toBe(1)
    expect(await a.get('app', 'from-b')).toBe(2)
    await a.close()
    await b.close()
  })

  it('gives up with E_STORAGE after busyTimeoutMs, with SQLITE_BUSY as cause', async () => {
    const filename = file()
    const a = createStorage(await createSqliteAdapter({ filename }))
    const b = createStorage(await createSqliteAdapter({ filename, busyTimeoutMs: 20 }))
    let release!: () => void
    const held = new Promise<void>((resolve) => {
      release = resolve
    })
    let entered!: () => void
    const inside = new Promise<void>((resolve) => {
      entered = resolve
    })
    const holder = a.transaction(async (tx) => {
      await tx.set('app', 'k', 1)
      entered()
      await held
    })
    await inside
    const err = await rejection(b.batch('app', [{ op: 'set', key: 'k', value: 2 }]))
    expect(err.code).toBe('E_STORAGE')
    expect(err.message).toMatch(/locked/)
    expect((err.cause as { code?: string }).code).toMatch(/^SQLITE_BUSY/)
    const txErr = await rejection(b.transaction(async () => 1))
    expect(txErr.code).toBe('E_STORAGE')
    release()
    await holder
    expect(await b.get('app', 'k')).toBe(1)
    await a.close()
    await b.close()
  })
})

describe('two connections on one file', () => {
  it('records the migrations once when two adapters open a new file together', async () => {
    const filename = join(dir, 'race', 'hub.db')
    mkdirSync(join(dir, 'race'), { recursive: true })
    const [a, b] = await Promise.all([
      createSqliteAdapter({ filename }),
      createSqliteAdapter({ filename }),
    ])
    await a.close()
    await b.close()
    const db = raw(filename)
    expect(db.prepare(`SELECT count(*) FROM ${MIGRATIONS_TABLE}`).pluck().get()).toBe(1)
    db.close()
  })
})
