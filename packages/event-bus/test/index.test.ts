import { describe, expect, it } from 'vitest'
import * as api from '../src/index.js'

describe('public surface', () => {
  it('should export exactly the documented runtime names', () => {
    expect(Object.keys(api).sort()).toMatchInlineSnapshot(`
      [
        "DEFAULT_MAX_QUEUE",
        "HANDLER_FAILED_EVENT",
        "createEventBus",
        "createEventBusMetrics",
        "createTopicMatcher",
      ]
    `)
  })

  it('should return an object with exactly publish, subscribe, defineEvent and stats', () => {
    expect(Object.keys(api.createEventBus()).sort()).toMatchInlineSnapshot(`
      [
        "defineEvent",
        "publish",
        "stats",
        "subscribe",
      ]
    `)
    expect(api.HANDLER_FAILED_EVENT).toBe('core.bus.handler_failed')
    expect(api.DEFAULT_MAX_QUEUE).toBe(10_000)
  })
})
