import { hash, timingSafeEqual } from 'node:crypto'
import { CoreError, type Logger } from '@core/contracts'
import type { FastifyRequest, onRequestHookHandler } from 'fastify'
import { assertStrongAdminToken } from './admin-token.js'
import { bearerOf, isLoopbackHost } from './auth.js'
import { PRINCIPAL, principalOf } from './routes/context.js'
import { PEEK, type Principal, type TokenStore } from './tokens.js'

/** Who may reach a route: anyone, a token, or (metrics, docs) a loopback client or a read scope. @internal */
export type Access = 'public' | 'token' | 'metrics' | 'docs'

/** What @fastify/rate-limit's `createRateLimit()` check answers. @internal */
export interface RateLimitState {
  isAllowed: boolean
  key?: string
  isExceeded?: boolean
  max?: number
  timeWindow?: number
  ttl?: number
  ttlInSeconds?: number
}

/** Counts one failed authentication of a request's address. @internal */
export type FailureCounter = (request: FastifyRequest) => Promise<RateLimitState>

/** What {@link createAccessHooks} needs. @internal */
export interface AccessHooksOptions {
  tokens: TokenStore
  /** The fixed admin token and the token store, as {@link createAuthenticator} joins them. */
  authenticator: Authenticator
  /** Loopback clients read the metrics and docs without a token. */
  loopbackMeta: boolean
  logger: Logger
  /** Counts a failed authentication; `undefined` until the rate-limit plugin has loaded. */
  countFailure(request: FastifyRequest): Promise<RateLimitState> | undefined
}

/** The first `onRequest` hook of each kind of route. @internal */
export type AccessHooks = Record<Access | 'anonymous', onRequestHookHandler>

/**
 * Builds the hooks that set the request's principal: `token` (bearer token, or the fixed admin
 * token), `metrics` / `docs` (a loopback client, or a token with `metrics:read` / `docs:read`),
 * `public` (nobody) and `anonymous` (auth off: an admin).
 *
 * A failed authentication (no, malformed, unknown or revoked token) counts against the client's
 * address; past the limit the request gets 429 `E_UNAVAILABLE` with `details.retryAfterS`
 * instead of 401. A valid token never reaches the counter.
 * @internal
 */
export function createAccessHooks(options: AccessHooksOptions): AccessHooks {
  const { tokens, loopbackMeta, logger } = options
  const { isAdmin } = options.authenticator
  const peek = (tokens as Partial<Record<typeof PEEK, TokenPeek>>)[PEEK]?.bind(tokens)
  // One warning per address and window, however many requests the flood sends.
  const warned = new Map<string, number>()

  const refuse = (request: FastifyRequest, error: unknown, done: Done): void => {
    const counted = CoreError.is(error, 'E_UNAUTHENTICATED')
      ? options.countFailure(request)
      : undefined
    if (counted === undefined) {
      done(error as Error)
      return
    }
    counted.then(
      (limit) => {
        if (limit.isAllowed || limit.isExceeded !== true) {
          done(error as Error)
          return
        }
        const seconds = Math.max(1, limit.ttlInSeconds ?? 1)
        const now = Date.now()
        const key = limit.key ?? request.ip
        if ((warned.get(key) ?? 0) <= now) {
          if (warned.size >= 1_000) warned.clear()
          warned.set(key, now + seconds * 1_000)
          logger.warn(
            { address: request.ip, max: limit.max, windowMs: limit.timeWindow },
            'too many failed authentications from one address: answering 429 until the window ends',
          )
        }
        done(
          new CoreError(
            'E_UNAVAILABLE',
            `Too many failed authentications from this address: retry in ${seconds} s with a valid token`,
            { cause: error, details: { status: 429, retryAfterS: seconds } },
          ),
        )
      },
      () => done(error as Error),
    )
  }

  const authenticate = (request: FastifyRequest, done: Done): void => {
    let token: string | undefined
    try {
      token = bearerOf(request.headers.authorization)
    } catch (error) {
      refuse(request, error, done)
      return
    }
    if (token === undefined) {
      refuse(
        request,
        new CoreError(
          'E_UNAUTHENTICATED',
          'This route needs a bearer token: send "Authorization: Bearer <token>" (create one with `core token create`)',
        ),
        done,
      )
      return
    }
    if (isAdmin(token)) {
      setPrincipal(request, ADMIN_TOKEN)
      done()
      return
    }
    const cached = peek?.(token, request.raw.socket ?? undefined)
    if (cached !== undefined) {
      setPrincipal(request, cached)
      done()
      return
    }
    tokens.verify(token).then(
      (principal) => {
        setPrincipal(request, principal)
        done()
      },
      (error: unknown) => refuse(request, error, done),
    )
  }

  const meta =
    (what: 'metrics' | 'docs'): onRequestHookHandler =>
    (request, _reply, done) => {
      if (loopbackMeta && isLoopbackHost(request.socket.remoteAddress ?? '')) {
        setPrincipal(request, NOBODY)
        done()
        return
      }
      authenticate(request, (error?: Error) => {
        if (error !== undefined) {
          done(error)
          return
        }
        const principal = principalOf(request)
        if (principal.admin || (what === 'metrics' ? principal.readMetrics : principal.readDocs)) {
          done()
          return
        }
        done(
          new CoreError(
            'E_FORBIDDEN',
            `Token "${principal.name}" may not read ${what === 'metrics' ? 'GET /metrics' : 'the API documents'}: give it the scope "${what}:read"`,
            { details: { token: principal.id, permission: `${what}:read` } },
          ),
        )
      })
    }

  const as =
    (principal: Principal): onRequestHookHandler =>
    (request, _reply, done) => {
      setPrincipal(request, principal)
      done()
    }

  return {
    token: (request, _reply, done) => authenticate(request, done),
    metrics: meta('metrics'),
    docs: meta('docs'),
    public: as(NOBODY),
    anonymous: as(ANONYMOUS),
  }
}

type Done = (error?: Error) => void
type TokenPeek = (token: string, holder?: object) => Principal | undefined

/** The fixed admin token and the token store behind one check. @internal */
export interface Authenticator {
  /** True when `token` is the fixed admin token (SHA-256 digests compared in constant time). */
  isAdmin(token: string): boolean
  /**
   * The principal of a bearer token: the admin for the fixed admin token, else the store's.
   * @throws {@link @core/contracts!CoreError} `E_UNAUTHENTICATED` for a malformed, unknown or revoked token.
   */
  authenticate(token: string): Promise<Principal>
}

/**
 * Joins the fixed admin token (`CORE_ADMIN_TOKEN`) and the token store, so that every transport
 * authenticates a bearer token the same way.
 * @throws {@link @core/contracts!CoreError} `E_VALIDATION` for a guessable `adminToken`.
 * @internal
 */
export function createAuthenticator(
  tokens: TokenStore,
  adminToken: string | undefined,
): Authenticator {
  let isAdmin = (_token: string): boolean => false
  if (adminToken !== undefined) {
    assertStrongAdminToken(adminToken, 'adminToken')
    const adminHash = sha256(adminToken)
    isAdmin = (token) =>
      token.length === adminToken.length && timingSafeEqual(sha256(token), adminHash)
  }
  return {
    isAdmin,
    authenticate: async (token) => (isAdmin(token) ? ADMIN_TOKEN : tokens.verify(token)),
  }
}

const sha256 = (text: string): Buffer => hash('sha256', text, 'buffer') as unknown as Buffer

function setPrincipal(request: FastifyRequest, principal: Principal): void {
  ;(request as unknown as Record<typeof PRINCIPAL, Principal>)[PRINCIPAL] = principal
}

const ANONYMOUS: Principal = Object.freeze({
  id: 'anonymous',
  name: 'anonymous (auth off)',
  admin: true,
  permissions: {},
})
const NOBODY: Principal = Object.freeze({
  id: 'public',
  name: 'public',
  admin: false,
  permissions: {},
})
const ADMIN_TOKEN: Principal = Object.freeze({
  id: 'admin-token',
  name: 'admin token',
  admin: true,
  permissions: {},
})
