import { silentLogger } from '@core/contracts'
import { createEventBus } from '@core/event-bus'
import { describe, expect, it } from 'vitest'
import * as api from '../src/index.js'

describe('public surface', () => {
  it('exports exactly these values', () => {
    expect(Object.keys(api).sort()).toMatchInlineSnapshot(`
      [
        "createMemoryStateBackend",
        "createStateEngine",
        "createStateEngineMetrics",
      ]
    `)
  })

  it('gives an engine exactly these methods', async () => {
    const state = api.createStateEngine({ bus: createEventBus({ logger: silentLogger }) })
    expect(Object.keys(state).sort()).toMatchInlineSnapshot(`
      [
        "close",
        "delete",
        "get",
        "has",
        "list",
        "set",
        "stats",
        "watch",
      ]
    `)
    await state.close()
  })

  it('gives a memory backend exactly these methods', () => {
    expect(Object.keys(api.createMemoryStateBackend()).sort()).toMatchInlineSnapshot(`
      [
        "delete",
        "expire",
        "get",
        "list",
        "set",
      ]
    `)
  })
})
