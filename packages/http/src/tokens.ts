import { hash, randomBytes, timingSafeEqual } from 'node:crypto'
import {
  assertPattern,
  type Clock,
  CoreError,
  type Logger,
  type PluginPermissions,
  silentLogger,
  systemClock,
} from '@core/contracts'
import type { Storage } from '@core/storage'

/**
 * The synchronous fast path of a store made by {@link createTokenStore}:
 * `store[PEEK](token, holder?)` is the principal of a token verified recently (within
 * `cacheTtlMs`), else `undefined` (then call `verify`). With `holder` (the connection), a token
 * the same holder presented last time is recognised without hashing it again.
 * @internal
 */
export const PEEK: unique symbol = Symbol('core.http.tokens.peek')

/** The storage namespace tokens live in; reserved: no plugin should be named so. @public */
export const DEFAULT_TOKEN_NAMESPACE = 'core-auth'

/** The scope that grants everything, including tokens and plugin management. @public */
export const ADMIN_SCOPE = 'admin'

/** The scope that lets a token read `GET /metrics` when that route is not public. @public */
export const METRICS_READ_SCOPE = 'metrics:read'

/**
 * The scope that lets a token read `GET /openapi.json` and `GET /docs` when they are not
 * public. @public
 */
export const DOCS_READ_SCOPE = 'docs:read'

/**
 * The permission kinds a token scope may name, the same fields as a plugin manifest's
 * `permissions` (`<area>.<action>:<pattern>`).
 * @public
 */
export const TOKEN_SCOPE_KINDS: readonly TokenScopeKind[] = Object.freeze([
  'services.call',
  'events.publish',
  'events.subscribe',
  'state.read',
  'state.write',
])

/** One permission kind a token scope may name. @public */
export type TokenScopeKind =
  | 'services.call'
  | 'events.publish'
  | 'events.subscribe'
  | 'state.read'
  | 'state.write'

/**
 * What a token may do, derived from its scopes: `admin` (everything), the manifest-style
 * `permissions` (AMQP patterns per kind), and whether it may read the metrics
 * (`metrics:read`) and the API documents (`docs:read`) when those routes are not public.
 * @public
 */
export interface TokenGrants {
  admin: boolean
  permissions: PluginPermissions
  /** `metrics:read`: may read `GET /metrics`. Absent = false. */
  readMetrics?: boolean
  /** `docs:read`: may read `GET /openapi.json` and `GET /docs`. Absent = false. */
  readDocs?: boolean
}

/**
 * A token as listed: never its secret nor its hash.
 *
 * - `id`: 16 hex characters, also inside the token text;
 * - `scopes`: as given at creation (`admin`, `services.call:lights.#`…);
 * - `createdAt` / `lastUsedAt`: epoch milliseconds (`lastUsedAt` is written at most once per
 *   `touchIntervalMs`, so it may lag by that much).
 * @public
 */
export interface TokenInfo {
  id: string
  name: string
  scopes: string[]
  createdAt: number
  lastUsedAt?: number
}

/** What {@link TokenStore.create} returns: the info plus the token text, shown this once. @public */
export interface CreatedToken extends TokenInfo {
  /** `core_<id>_<secret>`: the bearer credential. Only its SHA-256 hash is stored. */
  token: string
}

/** The caller of a request, after authentication. @public */
export interface Principal extends TokenGrants {
  /** The token id, `admin-token` for the static admin token, `anonymous` when auth is off. */
  id: string
  name: string
}

/** Input of {@link TokenStore.create}. @public */
export interface CreateTokenInput {
  /** A label for people: 1-64 printable characters. */
  name: string
  /** `admin` and/or `<kind>:<pattern>` with a kind of {@link TOKEN_SCOPE_KINDS}. At most 100. */
  scopes: string[]
}

/** Options of {@link createTokenStore}. @public */
export interface CreateTokenStoreOptions {
  /** Storage namespace. @defaultValue 'core-auth' */
  namespace?: string
  /** Time source for `createdAt`, `lastUsedAt` and the cache. @defaultValue systemClock */
  clock?: Clock
  /**
   * How long a verified token is trusted from memory before storage is read again, ms. A token
   * revoked through this store is refused at once; one revoked through another hub sharing the
   * storage, within this time. @defaultValue 5_000
   */
  cacheTtlMs?: number
  /** Least time between two writes of a token's `lastUsedAt`, ms. @defaultValue 60_000 */
  touchIntervalMs?: number
  /** Where failed `lastUsedAt` writes are logged. @defaultValue silentLogger */
  logger?: Logger
}

/**
 * Bearer tokens kept in the kernel's storage: create, list, revoke, verify.
 * @public
 */
export interface TokenStore {
  /** Creates a token. @throws E_VALIDATION for a bad name or scope. */
  create(input: CreateTokenInput): Promise<CreatedToken>
  /** Every token, oldest first. */
  list(): Promise<TokenInfo[]>
  /** Revokes a token. @throws E_NOT_FOUND when no token has this id. */
  revoke(id: string): Promise<void>
  /** Checks a bearer credential. @throws E_UNAUTHENTICATED when it is malformed, unknown or revoked. */
  verify(token: string): Promise<Principal>
}

/**
 * Creates the token store over the kernel's storage (namespace `core-auth`).
 *
 * A token is `core_<id>_<secret>`: `id` is 8 random bytes in hex, `secret` 32 random bytes
 * (`crypto.randomBytes`) in base64url. Only the SHA-256 hash of the whole token is stored,
 * under key `token.<id>` with the name, scopes, `createdAt` and `lastUsedAt`. A fast unsalted
 * hash is enough here: the secret has 256 bits of entropy, so no dictionary or brute-force
 * attack on a leaked hash is feasible, and a slow password hash would cost every request.
 * Hashes are compared in constant time.
 *
 * Scopes use the plugin manifest permission model: `services.call:<pattern>`,
 * `events.publish:<pattern>`, `events.subscribe:<pattern>`, `state.read:<pattern>`,
 * `state.write:<pattern>` (AMQP patterns, `*` one word, `#` zero or more; state names are
 * `<namespace>.<key>`), `metrics:read` and `docs:read` for the metrics and API documents when
 * those routes are not public, and `admin` for everything (tokens, plugins, reload included).
 *
 * @param storage - The kernel's storage.
 * @param options - Namespace, clock, cache and touch intervals.
 * @returns The {@link TokenStore}.
 * @throws {@link @core/contracts!CoreError} `E_VALIDATION` for a bad namespace or interval.
 * @see RFC 6750 (bearer tokens); AMQP 0-9-1 topic matching (scope patterns)
 * @example
 * ```ts
 * const tokens = createTokenStore(kernel.storage)
 * const { token } = await tokens.create({ name: 'cli', scopes: ['services.call:lights.#'] })
 * const principal = await tokens.verify(token) // { id, name, admin: false, permissions }
 * ```
 * @public
 */
export function createTokenStore(
  storage: Storage,
  options: CreateTokenStoreOptions = {},
): TokenStore {
  const clock = options.clock ?? systemClock
  const cacheTtlMs = positive(options.cacheTtlMs ?? 5_000, 'cacheTtlMs')
  const touchIntervalMs = positive(options.touchIntervalMs ?? 60_000, 'touchIntervalMs')
  const logger = options.logger ?? silentLogger
  const ns = storage.forNamespace(options.namespace ?? DEFAULT_TOKEN_NAMESPACE)
  const cache = new Map<string, Cached>()
  const byHolder = new WeakMap<object, { token: string; entry: Cached }>()

  const read = async (id: string): Promise<Cached | undefined> => {
    const now = clock.now()
    const hit = cache.get(id)
    if (hit !== undefined && now - hit.fetchedAt < cacheTtlMs) return hit
    const record = (await ns.get(keyOf(id))) as StoredToken | undefined
    if (record === undefined) {
      cache.delete(id)
      return undefined
    }
    const entry: Cached = {
      record,
      hash: Buffer.from(record.hash, 'hex'),
      principal: principalOf(record),
      fetchedAt: now,
      touchedAt: hit?.touchedAt ?? record.lastUsedAt ?? 0,
    }
    if (cache.size >= 10_000) cache.clear()
    cache.set(id, entry)
    return entry
  }

  const touch = (entry: Cached, now: number): void => {
    entry.record.lastUsedAt = now
    if (now - entry.touchedAt < touchIntervalMs) return
    entry.touchedAt = now
    const id = entry.record.id
    // In a transaction, so that a revoke in between is not undone by this write.
    ns.transaction(async (tx) => {
      const current = (await tx.get(keyOf(id))) as StoredToken | undefined
      if (current !== undefined) await tx.set(keyOf(id), { ...current, lastUsedAt: now })
    }).catch((error: unknown) => {
      logger.warn({ err: error, token: id }, 'could not record when a token was last used')
    })
  }

  const matches = (entry: Pick<Cached, 'hash'>, token: string): boolean =>
    timingSafeEqual(hash('sha256', token, 'buffer') as unknown as Buffer, entry.hash)

  const store: TokenStore & { [PEEK](token: string, holder?: object): Principal | undefined } = {
    async create(input: CreateTokenInput): Promise<CreatedToken> {
      const name = checkName(input?.name)
      const scopes = [...new Set(checkScopeList(input?.scopes))]
      parseScopes(scopes)
      const id = randomBytes(8).toString('hex')
      const token = `core_${id}_${randomBytes(32).toString('base64url')}`
      const record: StoredToken = { id, name, scopes, hash: sha256(token), createdAt: clock.now() }
      await ns.set(keyOf(id), record)
      cache.delete(id)
      return { id, name, scopes: [...scopes], createdAt: record.createdAt, token }
    },

    async list(): Promise<TokenInfo[]> {
      const out: TokenInfo[] = []
      for await (const { value } of ns.iterate({ prefix: 'token.', pageSize: 1000 }))
        out.push(infoOf(value as unknown as StoredToken))
      return out.sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id))
    },

    async revoke(id: string): Promise<void> {
      if (typeof id !== 'string' || !ID_RE.test(id) || !(await ns.delete(keyOf(id)))) {
        cache.delete(String(id))
        throw new CoreError(
          'E_NOT_FOUND',
          `No token with id ${JSON.stringify(id)}: list the tokens to see their ids`,
          { details: { id } },
        )
      }
      cache.delete(id)
    },

    async verify(token: string): Promise<Principal> {
      const match = typeof token === 'string' ? TOKEN_RE.exec(token) : null
      if (match === null) {
        throw new CoreError(
          'E_UNAUTHENTICATED',
          'Malformed bearer token: expected "core_<id>_<secret>" as created by `core token create`',
        )
      }
      const entry = await read(match[1] as string)
      // An unknown id costs the same hash and comparison as a wrong secret: no telling ids
      // that exist from those that do not by the time of the answer.
      const ok = matches(entry ?? UNKNOWN, token)
      if (entry === undefined || !ok) {
        throw new CoreError(
          'E_UNAUTHENTICATED',
          'Unknown or revoked bearer token: create a new one with `core token create`',
        )
      }
      touch(entry, clock.now())
      return entry.principal
    },

    [PEEK](token: string, holder?: object): Principal | undefined {
      const now = clock.now()
      // A keep-alive connection presenting the token it already proved: no hash needed while
      // that verification stands (same cache entry, not revoked, not stale).
      const memo = holder === undefined ? undefined : byHolder.get(holder)
      if (
        memo !== undefined &&
        memo.token === token &&
        cache.get(memo.entry.record.id) === memo.entry &&
        now - memo.entry.fetchedAt < cacheTtlMs
      ) {
        touch(memo.entry, now)
        return memo.entry.principal
      }
      if (token.length !== TOKEN_LENGTH || !token.startsWith('core_')) return undefined
      const entry = cache.get(token.slice(5, 21))
      if (entry === undefined) return undefined
      if (now - entry.fetchedAt >= cacheTtlMs || !matches(entry, token)) return undefined
      if (holder !== undefined) byHolder.set(holder, { token, entry })
      touch(entry, now)
      return entry.principal
    },
  }
  return store
}

/**
 * Parses token scopes into manifest-style grants: `admin`, `metrics:read`, `docs:read`, or
 * `<kind>:<pattern>` with a kind of {@link TOKEN_SCOPE_KINDS} and an AMQP pattern (`*` one
 * word, `#` zero or more).
 *
 * @param scopes - The scopes, e.g. `['services.call:lights.#', 'state.read:devices.#']`.
 * @returns `{ admin, permissions, readMetrics, readDocs }` (`permissions` is a
 *   PluginPermissions object).
 * @throws {@link @core/contracts!CoreError} `E_VALIDATION` naming the first bad scope.
 * @example
 * ```ts
 * parseScopes(['services.call:lights.*', 'metrics:read'])
 * // { admin: false, permissions: { services: { call: ['lights.*'] } }, readMetrics: true, readDocs: false }
 * ```
 * @public
 */
export function parseScopes(scopes: readonly string[]): TokenGrants {
  let admin = false
  let readMetrics = false
  let readDocs = false
  const permissions: Record<string, Record<string, string[]>> = {}
  for (const scope of checkScopeList(scopes)) {
    if (scope === ADMIN_SCOPE) {
      admin = true
      continue
    }
    if (scope === METRICS_READ_SCOPE) {
      readMetrics = true
      continue
    }
    if (scope === DOCS_READ_SCOPE) {
      readDocs = true
      continue
    }
    const colon = scope.indexOf(':')
    const kind = scope.slice(0, colon) as TokenScopeKind
    if (colon < 0 || !TOKEN_SCOPE_KINDS.includes(kind)) {
      throw new CoreError(
        'E_VALIDATION',
        `Invalid scope ${JSON.stringify(scope)}: use "admin", "metrics:read", "docs:read" or "<kind>:<pattern>" with a kind of ${TOKEN_SCOPE_KINDS.join(', ')}`,
        { details: { scope } },
      )
    }
    const pattern = scope.slice(colon + 1)
    assertPattern(pattern, `pattern of scope ${JSON.stringify(scope)}`)
    const [area, action] = kind.split('.') as [string, string]
    const byArea = permissions[area] ?? {}
    permissions[area] = byArea
    const list = byArea[action] ?? []
    byArea[action] = list
    list.push(pattern)
  }
  return { admin, permissions: permissions as PluginPermissions, readMetrics, readDocs }
}

interface StoredToken {
  id: string
  name: string
  scopes: string[]
  hash: string
  createdAt: number
  lastUsedAt?: number
}

interface Cached {
  record: StoredToken
  hash: Buffer
  principal: Principal
  fetchedAt: number
  touchedAt: number
}

/** Compared against when the id is unknown; no token hashes to it. */
const UNKNOWN: Pick<Cached, 'hash'> = { hash: Buffer.alloc(32) }
const ID_RE = /^[0-9a-f]{16}$/
const TOKEN_RE = /^core_([0-9a-f]{16})_[A-Za-z0-9_-]{43}$/
const TOKEN_LENGTH = 5 + 16 + 1 + 43
const NAME_RE = /^[^\p{Cc}]{1,64}$/u

const keyOf = (id: string): string => `token.${id}`
const sha256 = (text: string): string => hash('sha256', text, 'hex')

function principalOf(record: StoredToken): Principal {
  return Object.freeze({ id: record.id, name: record.name, ...parseScopes(record.scopes) })
}

function infoOf(record: StoredToken): TokenInfo {
  const info: TokenInfo = {
    id: record.id,
    name: record.name,
    scopes: [...record.scopes],
    createdAt: record.createdAt,
  }
  if (record.lastUsedAt !== undefined) info.lastUsedAt = record.lastUsedAt
  return info
}

function checkName(name: unknown): string {
  if (typeof name !== 'string' || !NAME_RE.test(name) || name.trim() === '') {
    throw new CoreError(
      'E_VALIDATION',
      `Invalid token name ${JSON.stringify(name)}: use 1-64 printable characters`,
      { details: { name } },
    )
  }
  return name
}

function checkScopeList(scopes: unknown): string[] {
  if (
    !Array.isArray(scopes) ||
    scopes.length === 0 ||
    scopes.length > 100 ||
    !scopes.every((s) => typeof s === 'string')
  ) {
    throw new CoreError(
      'E_VALIDATION',
      'Invalid scopes: give 1-100 strings, "admin", "metrics:read", "docs:read" or "<kind>:<pattern>" (e.g. "services.call:lights.#")',
      { details: { scopes } },
    )
  }
  return scopes as string[]
}

function positive(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new CoreError(
      'E_VALIDATION',
      `Invalid ${name} ${String(value)}: use a positive integer of milliseconds`,
      {
        details: { [name]: value },
      },
    )
  }
  return value
}
