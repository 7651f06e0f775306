import { integer, primaryKey, type SQLiteTable, sqliteTable, text } from 'drizzle-orm/sqlite-core'

// The adapter's own tables, the source of the drizzle-kit migrations in ../drizzle
// (`npx drizzle-kit generate` after a change here). At run time the adapter uses prepared
// better-sqlite3 statements over these tables, so the exports are typed loosely.

/**
 * The documents: one row per (namespace, key), the value as JSON text. The primary key's
 * index serves `get`, `has`, `delete` and `list`/`count` by key range (SQLite compares TEXT
 * with the BINARY collation: UTF-8 byte order, which is Unicode code point order).
 * @internal
 */
export const documents: SQLiteTable = sqliteTable(
  'core_storage_documents',
  {
    namespace: text('namespace').notNull(),
    key: text('key').notNull(),
    doc: text('doc').notNull(),
  },
  (t) => [primaryKey({ columns: [t.namespace, t.key] })],
)

/**
 * The schema version of each namespace's data (plugin data migrations).
 * @internal
 */
export const schemaVersions: SQLiteTable = sqliteTable('core_storage_schema_versions', {
  namespace: text('namespace').primaryKey(),
  version: integer('version').notNull(),
  updatedAt: integer('updated_at').notNull(),
})
