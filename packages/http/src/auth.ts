import { isIP } from 'node:net'
import { CoreError } from '@core/contracts'
import { patternContains } from '@core/kernel'
import type { Principal, TokenScopeKind } from './tokens.js'

/**
 * True when `host` names a loopback address: an IPv4 address in 127.0.0.0/8, `::1`, an
 * IPv4-mapped `::ffff:127.x.y.z`, or the name `localhost`. Used to accept `auth: false` only
 * for a hub nobody else can reach.
 *
 * @param host - A host name or IP literal (brackets around IPv6 allowed).
 * @returns Whether it is loopback.
 * @see RFC 1122 §3.2.1.3 (127.0.0.0/8); RFC 4291 §2.5.3 (::1)
 * @example
 * ```ts
 * isLoopbackHost('127.0.0.1') // true
 * isLoopbackHost('0.0.0.0')   // false
 * ```
 * @public
 */
export function isLoopbackHost(host: string): boolean {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1')
  if (h === 'localhost' || h.endsWith('.localhost')) return true
  const family = isIP(h)
  if (family === 4) return h.startsWith('127.')
  if (family === 6) {
    if (h === '::1' || /^(0{1,4}:){7}0{0,3}1$/.test(h) || h === '0:0:0:0:0:0:0:1') return true
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h)
    return mapped !== null && (mapped[1] as string).startsWith('127.')
  }
  return false
}

/**
 * True when `principal` may do `kind` on `resource`: an admin may do anything; otherwise one
 * of its `kind` patterns must contain `resource` (a name, or for `events.subscribe` a pattern)
 * under AMQP 0-9-1 topic semantics, as the kernel checks plugin manifests.
 *
 * @param principal - The authenticated caller.
 * @param kind - `services.call`, `events.publish`, `events.subscribe`, `state.read`, `state.write`.
 * @param resource - Service name, event type or pattern, or `<namespace>.<key>` for state.
 * @returns Whether it is allowed.
 * @see AMQP 0-9-1 topic exchange matching
 * @example
 * ```ts
 * allows(principal, 'services.call', 'lights.toggle')
 * ```
 * @public
 */
export function allows(principal: Principal, kind: TokenScopeKind, resource: string): boolean {
  if (principal.admin) return true
  let byKind = memos.get(principal)
  if (byKind === undefined) {
    byKind = new Map()
    memos.set(principal, byKind)
  }
  let memo = byKind.get(kind)
  if (memo === undefined) {
    memo = new Map()
    byKind.set(kind, memo)
  }
  let ok = memo.get(resource)
  if (ok === undefined) {
    const [area, action] = kind.split('.') as [string, string]
    const rules =
      (principal.permissions as Record<string, Record<string, string[] | undefined> | undefined>)[
        area
      ]?.[action] ?? []
    ok = rules.some((rule) => patternContains(rule, resource))
    if (memo.size >= 1_000) memo.clear()
    memo.set(resource, ok)
  }
  return ok
}

/**
 * Throws `E_FORBIDDEN` unless {@link allows} says yes.
 * @internal
 */
export function requireScope(principal: Principal, kind: TokenScopeKind, resource: string): void {
  if (allows(principal, kind, resource)) return
  throw new CoreError(
    'E_FORBIDDEN',
    `Token "${principal.name}" may not ${VERBS[kind]} "${resource}": give it a scope "${kind}:<pattern>" covering it`,
    { details: { token: principal.id, permission: kind, resource } },
  )
}

/**
 * Throws `E_FORBIDDEN` unless the principal is an admin.
 * @internal
 */
export function requireAdmin(principal: Principal, what: string): void {
  if (principal.admin) return
  throw new CoreError(
    'E_FORBIDDEN',
    `Token "${principal.name}" may not ${what}: this needs a token with the "admin" scope`,
    { details: { token: principal.id, permission: 'admin' } },
  )
}

/**
 * True when some `kind` pattern of the principal may match a name in `namespace` (for
 * filtered listings).
 * @internal
 */
export function touches(principal: Principal, kind: TokenScopeKind, namespace: string): boolean {
  if (principal.admin) return true
  const [area, action] = kind.split('.') as [string, string]
  const rules =
    (principal.permissions as Record<string, Record<string, string[] | undefined> | undefined>)[
      area
    ]?.[action] ?? []
  return rules.some((rule) => {
    const first = rule.split('.', 1)[0]
    return first === namespace || first === '*' || first === '#'
  })
}

/**
 * The token of an `Authorization: Bearer <token>` header; `undefined` when there is none.
 * @throws {@link @core/contracts!CoreError} `E_UNAUTHENTICATED` when the header uses another scheme.
 * @internal
 */
export function bearerOf(header: string | undefined): string | undefined {
  if (header === undefined || header === '') return undefined
  const space = header.indexOf(' ')
  if (space < 0 || header.slice(0, space).toLowerCase() !== 'bearer') {
    throw new CoreError(
      'E_UNAUTHENTICATED',
      'Unsupported Authorization scheme: send "Authorization: Bearer <token>"',
    )
  }
  return header.slice(space + 1).trim()
}

const memos = new WeakMap<Principal, Map<TokenScopeKind, Map<string, boolean>>>()

const VERBS: Record<TokenScopeKind, string> = {
  'services.call': 'call service',
  'events.publish': 'publish events of type',
  'events.subscribe': 'subscribe to events matching',
  'state.read': 'read state',
  'state.write': 'write state',
}
