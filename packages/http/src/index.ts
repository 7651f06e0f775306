/// <reference types="node" preserve="true" />
/**
 * FastAPI-style HTTP adapter for the Core Runtime kernel: Fastify, live OpenAPI 3.1 from service
 * schemas, problem+json errors, bearer tokens, SSE events, Prometheus metrics.
 *
 * @module @core/http
 */
export { assertStrongAdminToken, estimateEntropyBits, MIN_ADMIN_TOKEN_BITS } from './admin-token.js'
export { allows, isLoopbackHost } from './auth.js'
export type { ControlRouteScope, ControlSender } from './control-routes.js'
export { CONTROL_SCOPES, registerControlRoutes } from './control-routes.js'
export { createHttpServer, DEFAULT_BODY_LIMIT_BYTES } from './http-server.js'
export type { NodeDirectory } from './node-routes.js'
export { registerNodeRoutes } from './node-routes.js'
export type { Problem, ProblemFromErrorOptions } from './problem.js'
export {
  HIDDEN_CODES,
  PROBLEM_CONTENT_TYPE,
  PROBLEM_TYPE_BASE,
  problemFromError,
  STATUS_BY_CODE,
} from './problem.js'
export type { EventsMissedData } from './sse-replay.js'
export { EVENTS_MISSED_EVENT } from './sse-replay.js'
export { TOKEN_CREATED_EVENT, TOKEN_REVOKED_EVENT } from './token-audit.js'
export type {
  CreatedToken,
  CreateTokenInput,
  CreateTokenStoreOptions,
  Principal,
  TokenGrants,
  TokenInfo,
  TokenScopeKind,
  TokenStore,
} from './tokens.js'
export {
  ADMIN_SCOPE,
  createTokenStore,
  DEFAULT_TOKEN_NAMESPACE,
  DOCS_READ_SCOPE,
  METRICS_READ_SCOPE,
  parseScopes,
  TOKEN_SCOPE_KINDS,
} from './tokens.js'
export type {
  AuthFailureLimit,
  CreateHttpServerOptions,
  HttpAddress,
  HttpServer,
  ListenOptions,
  PublicRoutes,
} from './types.js'
