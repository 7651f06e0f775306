import { describe, expect, it } from 'vitest'
import * as api from '../src/index.js'

describe('public surface', () => {
  it('exports exactly these names', () => {
    expect(Object.keys(api).sort()).toMatchInlineSnapshot(`
      [
        "ADMIN_SCOPE",
        "DEFAULT_BODY_LIMIT_BYTES",
        "DEFAULT_TOKEN_NAMESPACE",
        "PROBLEM_CONTENT_TYPE",
        "PROBLEM_TYPE_BASE",
        "STATUS_BY_CODE",
        "TOKEN_SCOPE_KINDS",
        "allows",
        "createHttpServer",
        "createTokenStore",
        "isLoopbackHost",
        "parseScopes",
        "problemFromError",
        "registerNodeRoutes",
      ]
    `)
  })
})
