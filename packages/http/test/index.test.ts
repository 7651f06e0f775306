import { describe, expect, it } from 'vitest'
import * as api from '../src/index.js'

describe('public surface', () => {
  it('exports exactly these names', () => {
    expect(Object.keys(api).sort()).toMatchInlineSnapshot(`
      [
        "ADMIN_SCOPE",
        "CONTROL_SCOPES",
        "DEFAULT_BODY_LIMIT_BYTES",
        "DEFAULT_TOKEN_NAMESPACE",
        "DOCS_READ_SCOPE",
        "EVENTS_MISSED_EVENT",
        "HIDDEN_CODES",
        "METRICS_READ_SCOPE",
        "MIN_ADMIN_TOKEN_BITS",
        "PROBLEM_CONTENT_TYPE",
        "PROBLEM_TYPE_BASE",
        "STATUS_BY_CODE",
        "TOKEN_CREATED_EVENT",
        "TOKEN_REVOKED_EVENT",
        "TOKEN_SCOPE_KINDS",
        "allows",
        "assertStrongAdminToken",
        "createHttpServer",
        "createTokenStore",
        "estimateEntropyBits",
        "isLoopbackHost",
        "parseScopes",
        "problemFromError",
        "registerControlRoutes",
        "registerNodeRoutes",
      ]
    `)
  })
})
