import net from 'node:net'
import { CoreError } from '@core/contracts'
import postgres, { type Sql } from 'postgres'

/**
 * Options of `createPostgresAdapter`.
 * @public
 */
export interface CreatePostgresAdapterOptions {
  /**
   * The connection URL, `postgres://user:password@host:port/database` (postgres.js syntax,
   * query parameters such as `?sslmode=require` included).
   * @defaultValue the environment variable `CORE_DATABASE_URL`
   */
  url?: string
  /**
   * The PostgreSQL schema that holds the adapter's tables; created on open if missing. Give
   * each hub (or each test run) its own to keep their data apart in one database.
   * 1-63 characters: a letter or `_` first, then letters, digits or `_`.
   * @defaultValue 'public'
   */
  schema?: string
  /** Most connections in the pool, 1-1,000. @defaultValue 10 */
  max?: number
  /**
   * How long to wait for a connection to open (TCP, TLS and authentication), in ms.
   * @defaultValue 10000
   */
  connectTimeoutMs?: number
}

/** Options checked and defaulted. @internal */
export interface ResolvedOptions {
  url: string
  schema: string
  max: number
  connectTimeoutMs: number
  /** `host:port/database`, without credentials: for messages. */
  target: string
  /** Whether the URL names one host (not a `host1,host2` list). */
  singleHost: boolean
}

/** The environment variable read when no `url` is given. @internal */
export const URL_ENV = 'CORE_DATABASE_URL'

/** `postgres[ql]://[credentials@]hosts[/database][?query]`: group 1 = credentials and hosts, 2 = database. */
const URL_PATTERN = /^postgres(?:ql)?:\/\/([^/?#]*)(?:\/([^?#]*))?(?:[?#].*)?$/

const SCHEMA_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/

/** Seconds of idleness before the first TCP keepalive probe. */
const KEEPALIVE_S = 60

/**
 * Checks the options and fills in the defaults.
 * @throws {@link @core/contracts!CoreError} `E_VALIDATION` naming the bad option and what would work.
 * @internal
 */
export function resolveOptions(options: CreatePostgresAdapterOptions = {}): ResolvedOptions {
  if (typeof options !== 'object' || options === null) {
    throw new CoreError(
      'E_VALIDATION',
      'createPostgresAdapter options must be an object: { url?, schema?, max?, connectTimeoutMs? }',
    )
  }
  const url = options.url ?? process.env[URL_ENV]
  if (url === undefined || url === '') {
    throw new CoreError(
      'E_VALIDATION',
      `No PostgreSQL URL: pass { url: 'postgres://user@host:5432/database' } or set the environment variable ${URL_ENV}`,
      { details: { option: 'url', env: URL_ENV } },
    )
  }
  const match = typeof url === 'string' ? URL_PATTERN.exec(url) : null
  if (match === null) {
    throw new CoreError(
      'E_VALIDATION',
      'Invalid PostgreSQL URL: use postgres://user:password@host:port/database (the value is not shown, it may hold a password)',
      { details: { option: 'url' } },
    )
  }
  const schema = options.schema ?? 'public'
  if (typeof schema !== 'string' || !SCHEMA_PATTERN.test(schema)) {
    throw new CoreError(
      'E_VALIDATION',
      `Invalid schema ${JSON.stringify(schema)}: use 1-63 characters, a letter or "_" first, then letters, digits or "_"`,
      { details: { option: 'schema', schema, rule: SCHEMA_PATTERN.source } },
    )
  }
  const max = options.max ?? 10
  if (!Number.isSafeInteger(max) || max < 1 || max > 1000) {
    throw new CoreError(
      'E_VALIDATION',
      `Invalid max ${String(max)}: the pool size is an integer from 1 to 1000`,
      {
        details: { option: 'max', max },
      },
    )
  }
  const connectTimeoutMs = options.connectTimeoutMs ?? 10_000
  if (
    typeof connectTimeoutMs !== 'number' ||
    !Number.isFinite(connectTimeoutMs) ||
    connectTimeoutMs <= 0
  ) {
    throw new CoreError(
      'E_VALIDATION',
      `Invalid connectTimeoutMs ${String(connectTimeoutMs)}: a positive number of milliseconds`,
      { details: { option: 'connectTimeoutMs', connectTimeoutMs } },
    )
  }
  const hosts = (match[1] ?? '').replace(/^.*@/, '')
  const target = `${hosts || 'localhost'}/${match[2] ?? ''}`
  return { url, schema, max, connectTimeoutMs, target, singleHost: !hosts.includes(',') }
}

/**
 * Opens the postgres.js pool (lazily: connections open on first use).
 *
 * - Sockets get TCP_NODELAY (no Nagle delay on pipelined queries) and TCP keepalive after
 *   60 s of idleness, so a dead peer is noticed on idle pooled connections.
 * - Server notices (`CREATE SCHEMA IF NOT EXISTS` skipping…) are dropped, not printed.
 * - Statements are prepared (postgres.js caches them per connection).
 *
 * @internal
 */
export function openPool(options: ResolvedOptions): Sql {
  return postgres(options.url, {
    max: options.max,
    connect_timeout: options.connectTimeoutMs / 1000,
    keep_alive: KEEPALIVE_S,
    prepare: true,
    onnotice: () => {},
    connection: { application_name: 'core-storage-postgres' },
    // `socket` is a documented postgres.js option ("Custom socket") missing from its types.
    // Multi-host URLs keep postgres.js' own sockets, so that its failover between hosts works.
    ...((options.singleHost ? { socket: connectSocket } : {}) as object),
  })
}

/**
 * postgres.js `socket` option: a TCP (or Unix) socket with TCP_NODELAY and keepalive set,
 * returned while still connecting. postgres.js attaches its error and close handlers before the
 * connection can fail, then handles a refused connection as it does with its own sockets.
 */
function connectSocket(o: { host: string[]; port: number[]; path?: string | false }): net.Socket {
  if (typeof o.path === 'string' && o.path !== '') return net.connect({ path: o.path })
  return net.connect({
    host: o.host[0] ?? 'localhost',
    port: o.port[0] ?? 5432,
    noDelay: true,
    keepAlive: true,
    keepAliveInitialDelay: KEEPALIVE_S * 1000,
  })
}
