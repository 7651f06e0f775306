import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { CoreError } from '@core/contracts'
import Database from 'better-sqlite3'
import { type BusyCounter, retryBusy } from './busy-retry.js'
import { applyMigrations } from './migrate.js'
import type { CreateSqliteAdapterOptions } from './sqlite-adapter.js'
import { bindingsHint, messageOf } from './sqlite-errors.js'

const MIGRATIONS_FOLDER = fileURLToPath(new URL('../drizzle', import.meta.url))

/** An open, migrated connection and its busy-retry settings. */
export interface OpenDatabase {
  readonly db: Database.Database
  /** ms; see {@link CreateSqliteAdapterOptions.busyTimeoutMs}. */
  readonly busyTimeoutMs: number
  readonly busy: BusyCounter
}

/**
 * Checks the options, opens the file (creating its folder), switches to WAL with the
 * configured `synchronous`, and applies the pending migrations.
 * @throws {@link @core/contracts!CoreError} `E_VALIDATION` for bad options; `E_STORAGE` when the file
 *   cannot be opened or prepared (the connection is closed again).
 */
export async function openDatabase(options: CreateSqliteAdapterOptions): Promise<OpenDatabase> {
  const {
    filename,
    synchronous = 'NORMAL',
    busyTimeoutMs = 5000,
  } = options ?? ({} as CreateSqliteAdapterOptions)
  if (typeof filename !== 'string' || filename === '') {
    throw new CoreError(
      'E_VALIDATION',
      'createSqliteAdapter needs a filename: a path such as ./data/hub.db, or :memory:',
      {
        details: { filename },
      },
    )
  }
  if (synchronous !== 'NORMAL' && synchronous !== 'FULL') {
    throw new CoreError(
      'E_VALIDATION',
      `Invalid synchronous ${JSON.stringify(synchronous)}: use "NORMAL" or "FULL"`,
      {
        details: { synchronous },
      },
    )
  }
  if (!Number.isFinite(busyTimeoutMs) || busyTimeoutMs < 0) {
    throw new CoreError(
      'E_VALIDATION',
      `Invalid busyTimeoutMs ${String(busyTimeoutMs)}: use a number of ms >= 0`,
      {
        details: { busyTimeoutMs },
      },
    )
  }
  let db: Database.Database
  try {
    if (filename !== ':memory:' && !filename.startsWith('file:'))
      mkdirSync(dirname(filename), { recursive: true })
    db = new Database(filename, { timeout: 0 })
  } catch (error) {
    throw new CoreError(
      'E_STORAGE',
      `Cannot open SQLite database ${filename}: ${messageOf(error)}${bindingsHint(error)}`,
      {
        cause: error,
        details: { filename },
      },
    )
  }
  const busy: BusyCounter = { retries: 0 }
  const retry = <T>(what: string, run: () => T): Promise<T> =>
    retryBusy(run, busyTimeoutMs, busy, what)
  try {
    await retry('switch to WAL', () => db.pragma('journal_mode = WAL'))
    db.pragma(`synchronous = ${synchronous}`)
    await applyMigrations(db, MIGRATIONS_FOLDER, () =>
      retry('begin the migration transaction', () => {
        db.exec('BEGIN IMMEDIATE')
      }),
    )
  } catch (error) {
    db.close()
    if (CoreError.is(error)) throw error
    throw new CoreError(
      'E_STORAGE',
      `Cannot prepare SQLite database ${filename}: ${messageOf(error)}`,
      {
        cause: error,
        details: { filename },
      },
    )
  }
  return { db, busyTimeoutMs, busy }
}
