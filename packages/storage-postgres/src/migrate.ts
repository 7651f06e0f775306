/**
 * The adapter's own schema migrations: the SQL files drizzle-kit generated from `schema.ts`
 * (committed in `../drizzle/`), applied on open and recorded in `core_migrations`.
 */
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { CoreError } from '@core/contracts'
import type { Sql, TransactionSql } from 'postgres'
import { isConnectionLoss, never } from './errors.js'

/** One migration as drizzle-kit wrote it: a journal entry plus its SQL file. @internal */
export interface Migration {
  /** The file name without `.sql`, e.g. `0000_init`; unique. */
  tag: string
  /** SHA-256 (hex) of the whole SQL file, as drizzle's own migrator computes it. */
  hash: string
  /** When drizzle-kit generated it (epoch ms, the journal's `when`). */
  createdAt: number
  /** The statements, split at drizzle-kit's `--> statement-breakpoint` markers. */
  statements: string[]
}

/** What {@link applyMigrations} did. @internal */
export interface MigrateResult {
  /** Tags applied by this call, in order; empty when the schema was already up to date. */
  applied: string[]
}

/** The folder of the committed migrations, next to `src/` and `dist/`. @internal */
export const MIGRATIONS_FOLDER: URL = new URL('../drizzle/', import.meta.url)

/** Name of the table that records applied migrations, in the adapter's schema. @internal */
export const MIGRATIONS_TABLE = 'core_migrations'

/**
 * First key of the advisory lock taken while migrating: `'Core'` as a 32-bit integer. The
 * second key is `hashtext(schema)`, so stores in different schemas migrate independently.
 */
const LOCK_CLASS = 0x436f7265

const BREAKPOINT = '--> statement-breakpoint'

/**
 * Reads drizzle-kit's journal (`meta/_journal.json`) and the SQL files it lists, in journal
 * order.
 *
 * @param folder - The migrations folder. @defaultValue {@link MIGRATIONS_FOLDER}
 * @throws {@link @core/contracts!CoreError} `E_STORAGE` when the journal or a file it lists cannot be read.
 * @internal
 */
export function readMigrations(folder: URL = MIGRATIONS_FOLDER): Migration[] {
  let journal: { entries?: Array<{ tag?: unknown; when?: unknown }> }
  try {
    journal = JSON.parse(readFileSync(new URL('meta/_journal.json', folder), 'utf8'))
  } catch (error) {
    throw new CoreError(
      'E_STORAGE',
      `Cannot read the migration journal ${new URL('meta/_journal.json', folder).pathname}: the package is incomplete; reinstall @core/storage-postgres`,
      { cause: error },
    )
  }
  return (journal.entries ?? []).map((entry) => {
    const tag = String(entry.tag)
    let text: string
    try {
      text = readFileSync(new URL(`${tag}.sql`, folder), 'utf8')
    } catch (error) {
      throw new CoreError(
        'E_STORAGE',
        `Cannot read migration ${tag}.sql listed in the journal: the package is incomplete; reinstall @core/storage-postgres`,
        { cause: error },
      )
    }
    return {
      tag,
      hash: createHash('sha256').update(text).digest('hex'),
      createdAt: Number(entry.when),
      statements: text
        .split(BREAKPOINT)
        .map((s) => s.trim())
        .filter((s) => s.length > 0),
    }
  })
}

/**
 * Brings `schema` up to date: creates it if missing, then applies every migration not yet
 * recorded in `core_migrations`, in order, and records each.
 *
 * Guarantees:
 * - everything runs in ONE transaction holding a transaction-level advisory lock on
 *   (`'Core'`, `hashtext(schema)`): a concurrent opener of the same schema waits, then finds
 *   the work done (no migration is applied twice);
 * - a failing statement rolls the whole run back: the schema is left exactly as it was;
 * - running it again is a no-op (`applied` is empty);
 * - a recorded migration whose file changed, or one this package does not know (the database
 *   was migrated by a newer version), is refused before anything is applied.
 *
 * @param sql - A postgres.js pool or connection.
 * @param schema - The PostgreSQL schema that holds the adapter's tables.
 * @param migrations - In order. @defaultValue the committed ones ({@link readMigrations})
 * @throws {@link @core/contracts!CoreError} `E_STORAGE` when a migration fails (with the statement's error as
 *   `cause`) or the recorded history does not match the files.
 * @internal
 */
export async function applyMigrations(
  sql: Sql,
  schema: string,
  migrations: readonly Migration[] = readMigrations(),
): Promise<MigrateResult> {
  const applied: string[] = []
  await sql.begin(async (tx) => {
    try {
      await migrateIn(tx, schema, migrations, applied)
    } catch (error) {
      // On a lost connection sql.begin rejects by itself; a ROLLBACK must not follow.
      const cause = CoreError.is(error) ? error.cause : error
      if (isConnectionLoss(cause)) return never()
      throw error
    }
  })
  return { applied }
}

/** The body of {@link applyMigrations}, inside its transaction. */
async function migrateIn(
  tx: TransactionSql,
  schema: string,
  migrations: readonly Migration[],
  applied: string[],
): Promise<void> {
  await tx`select pg_advisory_xact_lock(${LOCK_CLASS}::int4, hashtext(${schema}))`
  await tx.unsafe(`create schema if not exists ${quoteIdent(schema)}`)
  await tx`select set_config('search_path', ${quoteIdent(schema)}, true)`
  await tx.unsafe(
    `create table if not exists ${quoteIdent(schema)}.${MIGRATIONS_TABLE} (
      id serial primary key,
      tag text not null unique,
      hash text not null,
      created_at bigint not null,
      applied_at timestamptz not null default now()
    )`,
  )
  const recorded = await tx<{ tag: string; hash: string }[]>`
    select tag, hash from ${tx(schema)}.${tx(MIGRATIONS_TABLE)} order by id`
  checkHistory(schema, recorded, migrations)
  const done = new Set(recorded.map((r) => r.tag))
  for (const migration of migrations) {
    if (done.has(migration.tag)) continue
    await runMigration(tx, schema, migration)
    applied.push(migration.tag)
  }
}

/**
 * Quotes a PostgreSQL identifier (`"…"`, inner quotes doubled).
 * @internal
 */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`
}

async function runMigration(tx: TransactionSql, schema: string, migration: Migration) {
  for (const [i, statement] of migration.statements.entries()) {
    try {
      await tx.unsafe(statement)
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error)
      throw new CoreError(
        'E_STORAGE',
        `Migration ${migration.tag} failed at statement ${i + 1} of ${migration.statements.length} in schema "${schema}": ${reason}. Nothing was applied; fix the cause and open again`,
        { cause: error, details: { schema, migration: migration.tag, statement: i + 1 } },
      )
    }
  }
  await tx`insert into ${tx(schema)}.${tx(MIGRATIONS_TABLE)} (tag, hash, created_at)
    values (${migration.tag}, ${migration.hash}, ${migration.createdAt})`
}

function checkHistory(
  schema: string,
  recorded: readonly { tag: string; hash: string }[],
  migrations: readonly Migration[],
) {
  const known = new Map(migrations.map((m) => [m.tag, m]))
  for (const row of recorded) {
    const file = known.get(row.tag)
    if (file === undefined) {
      throw new CoreError(
        'E_STORAGE',
        `Schema "${schema}" has migration ${row.tag}, which this version of @core/storage-postgres does not know: the database was migrated by a newer version. Upgrade the package (no data was touched)`,
        { details: { schema, migration: row.tag } },
      )
    }
    if (file.hash !== row.hash) {
      throw new CoreError(
        'E_STORAGE',
        `Migration ${row.tag} in schema "${schema}" was applied from a different file than the one shipped now (hash mismatch). Restore the original migration file (no data was touched)`,
        { details: { schema, migration: row.tag, recorded: row.hash, shipped: file.hash } },
      )
    }
  }
}
