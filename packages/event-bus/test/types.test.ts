import type { CloudEvent, Undo } from '@core/contracts'
import { describe, expectTypeOf, it } from 'vitest'
import {
  createEventBus,
  createTopicMatcher,
  type EventBus,
  type EventBusStats,
  type PublishReport,
  type TopicMatcher,
} from '../src/index.js'

describe('types', () => {
  it('should type publish, subscribe, defineEvent and stats as documented', () => {
    const bus: EventBus = createEventBus()
    expectTypeOf(bus.publish('a.b', { on: true })).toEqualTypeOf<Promise<PublishReport>>()
    const off = bus.subscribe<{ on: boolean }>('a.*', (event) => {
      expectTypeOf(event).toEqualTypeOf<CloudEvent<{ on: boolean }>>()
      expectTypeOf(event.data.on).toBeBoolean()
    })
    expectTypeOf(off).toEqualTypeOf<Undo>()
    expectTypeOf(off).toBeCallableWith()
    expectTypeOf(off).toExtend<Disposable>()
    expectTypeOf(bus.defineEvent('a.b', { type: 'object' })).toEqualTypeOf<Undo>()
    expectTypeOf(bus.stats()).toEqualTypeOf<EventBusStats>()
  })

  it('should type the topic matcher by its values', () => {
    const matcher = createTopicMatcher<number>()
    expectTypeOf(matcher).toEqualTypeOf<TopicMatcher<number>>()
    expectTypeOf(matcher.match('a.b')).toEqualTypeOf<readonly number[]>()
  })
})
