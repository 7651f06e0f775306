import { CoreError } from '@core/contracts'

/** What was being done when a driver error happened, for the message and `details`. @internal */
export interface Doing {
  /** The operation: `get`, `set`, `batch`, `transaction`, `open`… */
  operation: string
  namespace?: string | undefined
  key?: string | undefined
  /** Where the server is, without credentials: `host:port/database`. */
  target: string
}

/** SQLSTATEs of a transaction PostgreSQL aborted so that another could go on: retryable. */
const CONFLICT_STATES: ReadonlySet<string> = new Set(['40001', '40P01'])

/** Driver (postgres.js, Node net) codes meaning the server could not be reached or went away. */
const CONNECTION_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'CONNECT_TIMEOUT',
  'CONNECTION_CLOSED',
  'CONNECTION_DESTROYED',
  'CONNECTION_ENDED',
])

/**
 * Wraps a driver or engine error as a {@link @core/contracts!CoreError}, keeping it as `cause`, as the adapter
 * contract of `@core/storage` asks:
 * - a transaction aborted by PostgreSQL to break a deadlock (`40P01`) or a serialisation
 *   conflict (`40001`) → `E_CONFLICT` (nothing of it applied; retry);
 * - everything else → `E_STORAGE`, with a message naming the operation, namespace, key and
 *   server, and `details.sqlstate` (PostgreSQL errors) or `details.driverCode` (connection
 *   errors). A lost or refused connection says so and how to fix it.
 *
 * A CoreError passes through unchanged.
 *
 * @internal
 */
export function toStorageError(error: unknown, doing: Doing): CoreError {
  if (CoreError.is(error)) return error
  const e = (typeof error === 'object' && error !== null ? error : {}) as {
    code?: unknown
    name?: unknown
    message?: unknown
  }
  const code = typeof e.code === 'string' ? e.code : undefined
  const isPostgres = e.name === 'PostgresError'
  const reason = typeof e.message === 'string' ? e.message : String(error)
  const where = describe(doing)
  const details: Record<string, unknown> = { operation: doing.operation }
  if (doing.namespace !== undefined) details.namespace = doing.namespace
  if (doing.key !== undefined) details.key = doing.key
  if (isPostgres && code !== undefined) details.sqlstate = code
  else if (code !== undefined) details.driverCode = code

  if (isPostgres && code !== undefined && CONFLICT_STATES.has(code)) {
    return new CoreError(
      'E_CONFLICT',
      `PostgreSQL aborted the transaction (at ${where}) to resolve a ${code === '40P01' ? 'deadlock' : 'serialisation conflict'} with another transaction: nothing of it was applied; retry it (${reason})`,
      { cause: error, details },
    )
  }
  if (lostConnection(code, isPostgres)) {
    details.unreachable = true
    return new CoreError(
      'E_STORAGE',
      `PostgreSQL at ${doing.target} is unreachable or closed the connection during ${where} (${code}: ${reason}). Any transaction in progress was rolled back by the server. Check that the server runs and that the URL (option url or CORE_DATABASE_URL) is right`,
      { cause: error, details },
    )
  }
  return new CoreError(
    'E_STORAGE',
    `PostgreSQL failed to ${where}: ${reason}${isPostgres && code !== undefined ? ` (SQLSTATE ${code})` : ''}`,
    { cause: error, details },
  )
}

/**
 * Whether a driver error means the connection is gone (refused, reset, closed, or the server
 * ended the session): nothing more can be sent on it.
 * @internal
 */
export function isConnectionLoss(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false
  const e = error as { code?: unknown; name?: unknown }
  return lostConnection(typeof e.code === 'string' ? e.code : undefined, e.name === 'PostgresError')
}

/**
 * A promise that never settles: what a function given to postgres.js `sql.begin` or `savepoint`
 * returns once its connection is lost, so that postgres.js never sends `COMMIT`/`ROLLBACK [TO]`
 * to the closed socket (postgres.js 3.4 then throws an uncaught TypeError from `setImmediate`,
 * porsager/postgres#1208). `sql.begin` itself rejects as soon as the connection closes.
 * @internal
 */
export function never(): Promise<never> {
  return new Promise<never>(() => {})
}

function lostConnection(code: string | undefined, isPostgres: boolean): boolean {
  if (code === undefined) return false
  if (!isPostgres) return CONNECTION_CODES.has(code)
  // 08: connection exception; 57P01-57P03: server shutting down or starting up; 53300: too many connections.
  return (
    code.startsWith('08') ||
    code === '57P01' ||
    code === '57P02' ||
    code === '57P03' ||
    code === '53300'
  )
}

function describe(doing: Doing): string {
  let text = doing.operation
  if (doing.namespace !== undefined) {
    text += ` in namespace "${doing.namespace}"`
    if (doing.key !== undefined) text += ` key ${JSON.stringify(doing.key)}`
  }
  return text
}
