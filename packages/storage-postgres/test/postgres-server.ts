/**
 * The real PostgreSQL server the tests use: 127.0.0.1:5432, trust auth, database `test`, user
 * `postgres` (or `CORE_TEST_DATABASE_URL`). Each adapter under test gets a fresh schema
 * `core_test_<random>`, dropped when the file's tests end.
 *
 * When the server is unreachable the suites fail under `CI=true` and skip locally with a
 * message saying how to start it.
 */
import { randomBytes } from 'node:crypto'
import { probeServer } from '@core/contracts/testing'
import postgres, { type Sql } from 'postgres'

export const TEST_URL: string =
  process.env.CORE_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

const START_HINT =
  'start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start'

const server = await probeServer({
  name: 'PostgreSQL',
  url: TEST_URL,
  hint: START_HINT,
  probe,
  tag: 'storage-postgres',
})

async function probe(url: string): Promise<string | undefined> {
  const sql = postgres(url, { max: 1, connect_timeout: 3, onnotice: () => {} })
  try {
    await sql`select 1`
    return undefined
  } catch (error) {
    return error instanceof Error
      ? `${(error as { code?: string }).code ?? ''} ${error.message}`.trim()
      : String(error)
  } finally {
    await sql.end({ timeout: 0 })
  }
}

/**
 * `describe` that needs the server: runs `body` when it answers; otherwise registers one failing
 * test under CI, or skips with a console warning locally.
 */
export function describeWithServer(name: string, body: () => void): void {
  server.describe(name, body, dropCreatedSchemas)
}

const created: string[] = []
let admin: Sql | undefined

/**
 * A new schema name, dropped (with everything in it) when the enclosing
 * {@link describeWithServer} block ends.
 */
export function freshSchema(): string {
  const schema = `core_test_${randomBytes(6).toString('hex')}`
  created.push(schema)
  return schema
}

/** A small connection pool of its own, for test set-up and inspection. */
export function adminSql(): Sql {
  admin ??= postgres(TEST_URL, { max: 4, onnotice: () => {} })
  return admin
}

async function dropCreatedSchemas(): Promise<void> {
  const sql = adminSql()
  for (const schema of created.splice(0)) {
    await sql.unsafe(`drop schema if exists "${schema}" cascade`)
  }
  admin = undefined
  await sql.end({ timeout: 5 })
}
