import {
  assertPattern,
  assertTopic,
  filterToPattern,
  MESSAGE_EVENT_PREFIX,
  mqttTopicMatches,
  topicToWords,
} from '@core/contracts'
import { createTopicMatcher } from '@core/event-bus'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { levelOf } from '../src/mirror.js'

// The mapping itself is tested with its home, @core/contracts (test/mqtt-topics.test.ts); here,
// that the bus routes the mapped patterns as an MQTT broker routes the filters.
describe('MQTT filters on the event bus', () => {
  it('a filter matches a topic exactly when its bus pattern matches the topic event (property)', () => {
    const filterLevel = fc.oneof(
      { weight: 3, arbitrary: fc.constantFrom('a', 'b', 'x y', '') },
      { weight: 1, arbitrary: fc.constant('+') },
    )
    const filter = fc
      .tuple(fc.array(filterLevel, { minLength: 1, maxLength: 4 }), fc.boolean())
      .map(([levels, hash]) => (hash ? [...levels, '#'] : levels).join('/'))
      .filter((f) => f.length > 0)
    const t = fc
      .array(fc.constantFrom('a', 'b', 'x y', ''), { minLength: 1, maxLength: 5 })
      .map((l) => l.join('/'))
      .filter((s) => s.length > 0)
    fc.assert(
      fc.property(filter, t, (f, topicName) => {
        const pattern = filterToPattern(f)
        assertPattern(pattern)
        const type = `${MESSAGE_EVENT_PREFIX}.${topicToWords(topicName)}`
        assertTopic(type)
        const matcher = createTopicMatcher<true>()
        matcher.add(pattern, true)
        expect(matcher.match(type).length > 0).toBe(mqttTopicMatches(f, topicName))
      }),
      { numRuns: 3000 },
    )
  })
})

describe('state and event words as MQTT levels', () => {
  it('decodes canonical words and keeps any other word as it is', () => {
    expect(levelOf('living%20room')).toBe('living room')
    expect(levelOf('%')).toBe('')
    expect(levelOf('kitchen')).toBe('kitchen')
    // Not canonical (lower-case hex), or decoding to a wildcard: kept, so the topic stays valid.
    expect(levelOf('a%2e')).toBe('a%2e')
    expect(levelOf('%2B')).toBe('%2B')
  })
})
