import { describe, expect, it } from 'vitest'
import * as api from '../src/index.js'

describe('public surface', () => {
  it('exports exactly these names', () => {
    expect(Object.keys(api).sort()).toMatchInlineSnapshot(`
      [
        "DEFAULT_GRACE_PERIOD_MS",
        "DEFAULT_HEARTBEAT_INTERVAL_MS",
        "DEFAULT_NODE_TTL_MS",
        "assertQuantity",
        "compareQuantities",
        "compileLabelSelector",
        "createMemoryNodeRegistryBackend",
        "createMemoryNodeStore",
        "createNodeRegistry",
        "formatLabelSelector",
        "labelKeyProblem",
        "labelValueProblem",
        "matchLabelSelector",
        "parseLabelSelector",
        "parseQuantity",
        "validateLabelSelector",
        "validatePassport",
      ]
    `)
  })
})
