import type Database from 'better-sqlite3'

/** The documents table. */
export const DOCS = 'core_storage_documents'
/** The per-namespace schema versions table. */
export const VERSIONS = 'core_storage_schema_versions'

/** The adapter's prepared statements, prepared once per connection. */
export interface Statements {
  get: Database.Statement
  set: Database.Statement
  delete: Database.Statement
  has: Database.Statement
  countAll: Database.Statement
  countFrom: Database.Statement
  countRange: Database.Statement
  listFrom: Database.Statement
  listFromTo: Database.Statement
  listAfter: Database.Statement
  listAfterTo: Database.Statement
  getVersion: Database.Statement
  setVersion: Database.Statement
  begin: Database.Statement
  commit: Database.Statement
  rollback: Database.Statement
}

export function prepareStatements(db: Database.Database): Statements {
  const list = (lower: '>' | '>=', upper: boolean): Database.Statement =>
    db.prepare(
      `SELECT key, doc AS json FROM ${DOCS} WHERE namespace = ? AND key ${lower} ?${upper ? ' AND key < ?' : ''} ORDER BY key LIMIT ?`,
    )
  return {
    get: db.prepare(`SELECT doc FROM ${DOCS} WHERE namespace = ? AND key = ?`).pluck(),
    set: db.prepare(
      `INSERT INTO ${DOCS} (namespace, key, doc) VALUES (?, ?, ?) ON CONFLICT (namespace, key) DO UPDATE SET doc = excluded.doc`,
    ),
    delete: db.prepare(`DELETE FROM ${DOCS} WHERE namespace = ? AND key = ?`),
    has: db.prepare(`SELECT 1 FROM ${DOCS} WHERE namespace = ? AND key = ?`).pluck(),
    countAll: db.prepare(`SELECT count(*) FROM ${DOCS} WHERE namespace = ?`).pluck(),
    countFrom: db.prepare(`SELECT count(*) FROM ${DOCS} WHERE namespace = ? AND key >= ?`).pluck(),
    countRange: db
      .prepare(`SELECT count(*) FROM ${DOCS} WHERE namespace = ? AND key >= ? AND key < ?`)
      .pluck(),
    listFrom: list('>=', false),
    listFromTo: list('>=', true),
    listAfter: list('>', false),
    listAfterTo: list('>', true),
    getVersion: db.prepare(`SELECT version FROM ${VERSIONS} WHERE namespace = ?`).pluck(),
    setVersion: db.prepare(
      `INSERT INTO ${VERSIONS} (namespace, version, updated_at) VALUES (?, ?, ?) ON CONFLICT (namespace) DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at`,
    ),
    begin: db.prepare('BEGIN IMMEDIATE'),
    commit: db.prepare('COMMIT'),
    rollback: db.prepare('ROLLBACK'),
  }
}
