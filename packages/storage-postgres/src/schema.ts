/**
 * The adapter's tables, as drizzle-orm definitions. drizzle-kit generates the SQL migrations
 * in `../drizzle/` from this file (`npx drizzle-kit generate` in the package folder); the
 * adapter applies them on open. Tables are unqualified here: the migration runner sets
 * `search_path` to the configured schema, so one database can hold several stores.
 *
 * Keep this module free of relative imports: drizzle-kit loads it on its own.
 */
import { sql } from 'drizzle-orm'
import {
  customType,
  index,
  integer,
  jsonb,
  type PgTable,
  pgTable,
  primaryKey,
  timestamp,
} from 'drizzle-orm/pg-core'

/**
 * `text COLLATE "C"`: byte-order comparison, so that `ORDER BY key` is the same on every
 * database whatever its default collation, and a key-prefix range scan can use the primary key.
 */
const textC = customType<{ data: string; driverData: string }>({
  dataType: () => 'text COLLATE "C"',
})

/**
 * One row per stored document: `(namespace, key)` → a JSONB value.
 *
 * - the primary key `(namespace, key)` serves `get`, `has`, `delete` and `list`/`count` (key
 *   order and key-prefix ranges within a namespace);
 * - the GIN index on `value` with `jsonb_path_ops` serves equality on document fields
 *   (`value @> {...}` containment) in `query`; its pending list is capped at 256 kB;
 * - `created_at`/`updated_at` are informative (server time of the first and the last write).
 *
 * @internal
 */
export const documents: PgTable = pgTable(
  'core_documents',
  {
    namespace: textC('namespace').notNull(),
    key: textC('key').notNull(),
    value: jsonb('value').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' })
      .notNull()
      .default(sql`now()`),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' })
      .notNull()
      .default(sql`now()`),
  },
  (t) => [
    primaryKey({ name: 'core_documents_pkey', columns: [t.namespace, t.key] }),
    // A 256 kB pending list (PostgreSQL's default is 4 MB) keeps GIN's cheap batched inserts
    // while bounding what a query must scan linearly after a bulk load until it is merged.
    index('core_documents_value_gin')
      .using('gin', t.value.op('jsonb_path_ops'))
      .with({ gin_pending_list_limit: 256 }),
  ],
)

/**
 * One row per namespace whose plugin declared `storage.version`: the version its data was last
 * migrated to.
 *
 * @internal
 */
export const schemaVersions: PgTable = pgTable('core_schema_versions', {
  namespace: textC('namespace').primaryKey(),
  version: integer('version').notNull(),
  updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' })
    .notNull()
    .default(sql`now()`),
})
