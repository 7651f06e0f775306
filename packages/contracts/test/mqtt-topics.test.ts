import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  assertMqttFilter,
  assertMqttTopic,
  CoreError,
  filterToPattern,
  levelToWord,
  MESSAGE_EVENT_PREFIX,
  mqttTopicMatches,
  topicToWords,
  WORD_PATTERN,
  wordsToTopic,
  wordToLevel,
} from '../src/index.js'

/** A topic level: any well-formed Unicode text without `/`, `+`, `#` or U+0000 (may be empty). */
const level = fc
  .string({ unit: 'grapheme', maxLength: 12 })
  .map((s) => s.replace(/[/+#]/g, '').replaceAll('\u0000', ''))
const asciiLevel = fc.string({ unit: fc.constantFrom(...'ab.%- _$é/'.split('')), maxLength: 4 })
const topic = fc.array(level, { minLength: 1, maxLength: 8 }).map((ls) => ls.join('/'))
const nonEmptyTopic = topic.filter((t) => t.length > 0)

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn()
    return undefined
  } catch (error) {
    return CoreError.is(error) ? error.code : 'not a CoreError'
  }
}

describe('topic levels and event words', () => {
  it('keeps letters, digits, "_" and "-" and percent-encodes everything else in upper-case hex', () => {
    expect(levelToWord('Kitchen_lamp-2')).toBe('Kitchen_lamp-2')
    expect(levelToWord('living room')).toBe('living%20room')
    expect(levelToWord('a.b')).toBe('a%2Eb')
    expect(levelToWord('100%')).toBe('100%25')
    expect(levelToWord('é')).toBe('%C3%A9')
    expect(levelToWord("it's (ok)!~*")).toBe('it%27s%20%28ok%29%21%7E%2A')
    expect(levelToWord('$SYS')).toBe('%24SYS')
  })

  it('encodes the empty level as a lone "%"', () => {
    expect(levelToWord('')).toBe('%')
    expect(wordToLevel('%')).toBe('')
    expect(topicToWords('a//b')).toBe('a.%.b')
    expect(topicToWords('/')).toBe('%.%')
    expect(wordsToTopic('%.%')).toBe('/')
  })

  it('maps a Zigbee2MQTT friendly name with spaces and slashes to one word per level', () => {
    expect(topicToWords('zigbee2mqtt/living room/ceiling lamp')).toBe(
      'zigbee2mqtt.living%20room.ceiling%20lamp',
    )
    expect(wordsToTopic('zigbee2mqtt.living%20room.ceiling%20lamp')).toBe(
      'zigbee2mqtt/living room/ceiling lamp',
    )
  })

  it('round-trips every MQTT topic name through words and back (property)', () => {
    fc.assert(
      fc.property(nonEmptyTopic, (t) => {
        expect(wordsToTopic(topicToWords(t))).toBe(t)
      }),
      { numRuns: 2000 },
    )
    fc.assert(
      fc.property(
        fc.array(asciiLevel, { minLength: 1, maxLength: 6 }).map((l) => l.join('/')),
        (t) => {
          fc.pre(t.length > 0)
          expect(wordsToTopic(topicToWords(t))).toBe(t)
        },
      ),
      { numRuns: 2000 },
    )
  })

  it('produces only words the bus accepts, one per level (property)', () => {
    fc.assert(
      fc.property(nonEmptyTopic, (t) => {
        const words = topicToWords(t).split('.')
        expect(words).toHaveLength(t.split('/').length)
        for (const w of words) expect(w).toMatch(WORD_PATTERN)
      }),
      { numRuns: 2000 },
    )
  })

  it('round-trips every level through one word (property)', () => {
    fc.assert(
      fc.property(level, (l) => {
        expect(wordToLevel(levelToWord(l))).toBe(l)
      }),
      { numRuns: 2000 },
    )
  })

  it('refuses words that are not canonical encodings, so that the mapping stays one-to-one', () => {
    for (const word of ['%2e', '%41', '%ZZ', '%C3', 'a%2Fb', '%2B', '%23', '%00']) {
      expect(codeOf(() => wordToLevel(word))).toBe('E_VALIDATION')
    }
    expect(codeOf(() => wordsToTopic('a.%2e'))).toBe('E_VALIDATION')
  })

  it('refuses a lone surrogate with E_VALIDATION', () => {
    expect(codeOf(() => levelToWord('\uD800'))).toBe('E_VALIDATION')
    expect(codeOf(() => topicToWords('a/\uDC00'))).toBe('E_VALIDATION')
  })
})

describe('topic names and filters', () => {
  it('refuses wildcards, empty strings and U+0000 in a topic name with E_VALIDATION', () => {
    for (const bad of ['a/+/b', 'a/#', '#', '+', '', 'a\u0000b', 42, undefined]) {
      expect(codeOf(() => assertMqttTopic(bad))).toBe('E_VALIDATION')
    }
    expect(codeOf(() => assertMqttTopic('a/b c/d'))).toBeUndefined()
    expect(codeOf(() => topicToWords('zigbee2mqtt/+/set'))).toBe('E_VALIDATION')
  })

  it('refuses a topic name longer than 65,535 bytes', () => {
    expect(codeOf(() => assertMqttTopic('é'.repeat(32_768)))).toBe('E_VALIDATION')
  })

  it('accepts "+" and "#" only as whole levels, "#" only last', () => {
    for (const ok of ['#', '+', 'a/+/c', 'a/#', '+/+/#', 'a//b', '/']) {
      expect(codeOf(() => assertMqttFilter(ok))).toBeUndefined()
    }
    for (const bad of ['a/#/c', 'a#', 'a/b+', '+a/b', '#/a', '', 'x\u0000']) {
      expect(codeOf(() => assertMqttFilter(bad))).toBe('E_VALIDATION')
    }
  })

  it('maps a filter to the bus pattern of its messages ("+" → "*", "#" → "#")', () => {
    expect(filterToPattern('zigbee2mqtt/#')).toBe(`${MESSAGE_EVENT_PREFIX}.zigbee2mqtt.#`)
    expect(filterToPattern('zigbee2mqtt/+/availability')).toBe(
      'mqtt.message.zigbee2mqtt.*.availability',
    )
    expect(filterToPattern('home/living room/+')).toBe('mqtt.message.home.living%20room.*')
  })

  it('matches topics as MQTT does, including "#" matching the parent level and the "$" rule', () => {
    expect(mqttTopicMatches('a/#', 'a')).toBe(true)
    expect(mqttTopicMatches('a/+', 'a')).toBe(false)
    expect(mqttTopicMatches('a/+/c', 'a/b/c')).toBe(true)
    expect(mqttTopicMatches('+/b', '/b')).toBe(true)
    expect(mqttTopicMatches('#', '$SYS/x')).toBe(false)
    expect(mqttTopicMatches('$SYS/#', '$SYS/x')).toBe(true)
  })
})
