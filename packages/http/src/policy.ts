import { CoreError } from '@core/contracts'
import type { KernelSecurity } from '@core/kernel'
import { allows, requireScope } from './auth.js'
import type { Principal, TokenScopeKind } from './tokens.js'

/** The policy subject of a token: `token:<id>` (`token:admin-token`, `token:anonymous`). @internal */
export function tokenSubject(principal: Principal): string {
  return `token:${principal.id}`
}

/**
 * Throws `E_FORBIDDEN` unless the token's scopes allow `kind` on `resource` **and** the operator
 * policy (`kernel.security`) does; either refusal is reported (the `core.security.denied`
 * event, the counter, the rate-limited log).
 * @throws {@link @core/contracts!CoreError} `E_FORBIDDEN` naming the token and the missing scope, or the
 *   deciding policy rule.
 * @internal
 */
export function permit(
  security: KernelSecurity,
  principal: Principal,
  kind: TokenScopeKind,
  resource: string,
): void {
  try {
    requireScope(principal, kind, resource)
  } catch (error) {
    if (CoreError.is(error, 'E_FORBIDDEN')) {
      security.report({
        subject: tokenSubject(principal),
        action: kind,
        resource,
        reason: error.message,
        via: 'http',
      })
    }
    throw error
  }
  security.authorize({ subject: tokenSubject(principal), action: kind, resource, via: 'http' })
}

/**
 * True when the token's scopes and the operator policy both allow `kind` on `resource`; reports
 * nothing (for filtered listings and streams).
 * @internal
 */
export function permits(
  security: KernelSecurity,
  principal: Principal,
  kind: TokenScopeKind,
  resource: string,
): boolean {
  return (
    allows(principal, kind, resource) &&
    (security.policy === undefined ||
      security.allows({ subject: tokenSubject(principal), action: kind, resource }))
  )
}
