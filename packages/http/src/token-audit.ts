import type { Logger } from '@core/contracts'
import type { EventBus } from '@core/event-bus'
import {
  type CreatedToken,
  type CreateTokenInput,
  PEEK,
  type Principal,
  type TokenStore,
} from './tokens.js'

/** The event type published when a token is created. @public */
export const TOKEN_CREATED_EVENT = 'core.auth.token_created'
/** The event type published when a token is revoked. @public */
export const TOKEN_REVOKED_EVENT = 'core.auth.token_revoked'

/**
 * A token store whose creations and revocations are audited; `createBy`/`revokeBy` name who
 * did it (a token id), the plain methods record `local` (code in the hub's process).
 * @internal
 */
export interface AuditedTokenStore extends TokenStore {
  createBy(input: CreateTokenInput, actor: string): Promise<CreatedToken>
  revokeBy(id: string, actor: string): Promise<void>
}

/** What {@link auditTokens} needs. @internal */
export interface TokenAuditOptions {
  bus: EventBus
  logger: Logger
  /** CloudEvents `source` of the audit events. */
  source: string
}

/**
 * Wraps a token store so that each creation publishes `core.auth.token_created` with
 * `{ id, name, scopes, by }` and each revocation `core.auth.token_revoked` with `{ id, by }`
 * (the kernel-side adapter publishes under `core.`, which plugins and clients cannot forge), and
 * logs one `info` line. Never the token text nor its hash. Keeps the store's synchronous fast
 * path.
 * @internal
 */
export function auditTokens(store: TokenStore, options: TokenAuditOptions): AuditedTokenStore {
  const { bus, logger, source } = options
  const publish = (type: string, data: Record<string, unknown>): void => {
    bus.publish(type, data, { source, wait: false }).catch((error: unknown) => {
      logger.warn({ err: error, event: type }, 'could not publish a token audit event')
    })
  }
  const createBy = async (input: CreateTokenInput, actor: string): Promise<CreatedToken> => {
    const created = await store.create(input)
    const { id, name, scopes } = created
    logger.info({ tokenId: id, name, scopes, by: actor }, 'token created')
    publish(TOKEN_CREATED_EVENT, { id, name, scopes: [...scopes], by: actor })
    return created
  }
  const revokeBy = async (id: string, actor: string): Promise<void> => {
    await store.revoke(id)
    logger.info({ tokenId: id, by: actor }, 'token revoked')
    publish(TOKEN_REVOKED_EVENT, { id, by: actor })
  }
  const peek = (store as Partial<Record<typeof PEEK, TokenPeek>>)[PEEK]?.bind(store)
  const audited: AuditedTokenStore & Partial<Record<typeof PEEK, TokenPeek>> = {
    create: (input) => createBy(input, LOCAL),
    list: () => store.list(),
    revoke: (id) => revokeBy(id, LOCAL),
    verify: (token) => store.verify(token),
    createBy,
    revokeBy,
  }
  if (peek !== undefined) audited[PEEK] = peek
  return audited
}

type TokenPeek = (token: string, holder?: object) => Principal | undefined

const LOCAL = 'local'
