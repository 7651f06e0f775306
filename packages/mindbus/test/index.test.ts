import { describe, expect, it } from 'vitest'
import * as api from '../src/index.js'

describe('@core/mindbus public surface', () => {
  it('exports createMindBus only (the rest are types)', () => {
    expect(Object.keys(api).sort()).toMatchInlineSnapshot(`
      [
        "createMindBus",
      ]
    `)
  })
})
