import { describe, expect, it } from 'vitest'
import * as api from '../src/index.js'

describe('public surface', () => {
  it('exports exactly these names', () => {
    expect(Object.keys(api).sort()).toMatchInlineSnapshot(`
      [
        "createEtcdNodeRegistryBackend",
      ]
    `)
  })
})
