export { allows, isLoopbackHost } from './auth.js'
export { createHttpServer, DEFAULT_BODY_LIMIT_BYTES } from './http-server.js'
export type { NodeDirectory } from './node-routes.js'
export { registerNodeRoutes } from './node-routes.js'
export type { Problem, ProblemFromErrorOptions } from './problem.js'
export {
  PROBLEM_CONTENT_TYPE,
  PROBLEM_TYPE_BASE,
  problemFromError,
  STATUS_BY_CODE,
} from './problem.js'
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
  parseScopes,
  TOKEN_SCOPE_KINDS,
} from './tokens.js'
export type {
  CreateHttpServerOptions,
  HttpAddress,
  HttpServer,
  ListenOptions,
  PublicRoutes,
} from './types.js'
