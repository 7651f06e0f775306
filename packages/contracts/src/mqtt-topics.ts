/**
 * The one home of the MQTT ↔ event mapping, shared by the MQTT adapter (`@core/mqtt`) and the
 * plugins that read its events (they never import the adapter): MQTT topic levels ↔ event
 * words, MQTT filters → bus patterns, topic and filter checks, and the `data` of the
 * `mqtt.message.<words>` events.
 */
import Type, { type Static } from 'typebox'
import { CoreError } from './errors.js'

/**
 * The first two words of every bus event that carries an inbound MQTT message:
 * `mqtt.message.<words of the MQTT topic>`.
 * @public
 */
export const MESSAGE_EVENT_PREFIX = 'mqtt.message'

/**
 * The `data` of an `mqtt.message.<words>` event: one inbound MQTT message, as the MQTT bridge
 * publishes it.
 *
 * - `topic`: the MQTT topic name, as received;
 * - `payload`: the payload parsed as JSON when it parses, else its UTF-8 text (`''` when empty);
 * - `retain`: true for a retained message delivered on subscribe;
 * - `qos`: the QoS it was delivered with (0, 1 or 2).
 *
 * @see MQTT 5 §3.3 PUBLISH
 * @public
 */
export const MqttMessageDataSchema = Type.Object(
  {
    topic: Type.String({ minLength: 1 }),
    payload: Type.Unknown(),
    retain: Type.Boolean(),
    qos: Type.Union([Type.Literal(0), Type.Literal(1), Type.Literal(2)]),
  },
  { $id: 'https://core-runtime.dev/schemas/mqtt-message-data.json', title: 'MqttMessageData' },
)

/** See {@link MqttMessageDataSchema}. @public */
export type MqttMessageData = Static<typeof MqttMessageDataSchema>

/** Longest MQTT topic name or filter, in bytes of UTF-8 (MQTT 5, 1.5.4 "UTF-8 Encoded String"). @public */
export const MAX_MQTT_TOPIC_BYTES = 65_535

const PLAIN_LEVEL = /^[A-Za-z0-9_-]+$/
const EXTRA_ESCAPES = /[.!~*'()]/g
const EMPTY_LEVEL_WORD = '%'
const FORBIDDEN_IN_LEVEL = /[/+#]/
/** In `u` mode a surrogate range matches only unpaired surrogates. */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u

/**
 * Turns one MQTT topic level into one event word, reversibly. Letters `A-Z a-z`, digits, `_`
 * and `-` stay as they are; every other character becomes the percent-encoding of its UTF-8
 * bytes with upper-case hex (RFC 3986 §2.1), so a space is `%20`, `.` is `%2E`, `%` is `%25`
 * and `é` is `%C3%A9`. The empty level (as in `a//b`) becomes the lone word `%`, which no
 * other level can produce.
 *
 * @param level - One level of an MQTT topic (never holds `/`).
 * @returns A word of `[A-Za-z0-9_%-]+`.
 * @throws {@link @core/contracts!CoreError} `E_VALIDATION` when `level` holds a lone UTF-16 surrogate (not UTF-8).
 * @see RFC 3986 §2.1 percent-encoding; MQTT 5 §4.7 topic names and filters
 * @example
 * ```ts
 * levelToWord('living room') // 'living%20room'
 * ```
 * @public
 */
export function levelToWord(level: string): string {
  if (level === '') return EMPTY_LEVEL_WORD
  if (PLAIN_LEVEL.test(level)) return level
  let encoded: string
  try {
    encoded = encodeURIComponent(level)
  } catch (error) {
    throw new CoreError(
      'E_VALIDATION',
      `Invalid MQTT topic level ${JSON.stringify(level)}: it is not valid UTF-8 (a lone surrogate)`,
      { cause: error, details: { level } },
    )
  }
  return encoded.replace(EXTRA_ESCAPES, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
}

/**
 * The inverse of {@link levelToWord}: turns an event word back into the MQTT topic level it
 * encodes. Only canonical words are accepted (those `levelToWord` produces), so the mapping is
 * one-to-one both ways.
 *
 * @param word - One event word.
 * @returns The topic level (may be empty, for the word `%`).
 * @throws {@link @core/contracts!CoreError} `E_VALIDATION` when the word is not a canonical encoding (lower-case
 *   hex, an escaped letter, a stray `%`, bytes that are not UTF-8), or decodes to a level
 *   holding `/`, `+`, `#` or U+0000, which no MQTT topic name level holds.
 * @example
 * ```ts
 * wordToLevel('living%20room') // 'living room'
 * ```
 * @public
 */
export function wordToLevel(word: string): string {
  const level = decodeWord(word)
  if (level === undefined) {
    throw new CoreError(
      'E_VALIDATION',
      `Word ${JSON.stringify(word)} is not an encoded MQTT topic level: use letters, digits, "_", "-" and upper-case %XX escapes of UTF-8 bytes for anything else ("%" alone is the empty level)`,
      { details: { word } },
    )
  }
  return level
}

/**
 * Maps an MQTT topic name to dot-separated event words, one word per level
 * ({@link levelToWord}): `zigbee2mqtt/living room/lamp` → `zigbee2mqtt.living%20room.lamp`.
 * Reversible with {@link wordsToTopic}. The result is not checked against the bus's length
 * limits (255 bytes, 32 words): a caller building an event type checks that.
 *
 * @param topic - An MQTT topic name (no wildcards).
 * @returns Dot-separated words.
 * @throws {@link @core/contracts!CoreError} `E_VALIDATION` when `topic` is not a valid topic name (see {@link assertMqttTopic}).
 * @see MQTT 5 §4.7 topic names; RFC 3986 §2.1
 * @example
 * ```ts
 * topicToWords('zigbee2mqtt/living room/lamp') // 'zigbee2mqtt.living%20room.lamp'
 * ```
 * @public
 */
export function topicToWords(topic: string): string {
  assertMqttTopic(topic)
  return topic.split('/').map(levelToWord).join('.')
}

/**
 * The inverse of {@link topicToWords}: `zigbee2mqtt.living%20room.lamp` →
 * `zigbee2mqtt/living room/lamp`.
 *
 * @param words - Dot-separated canonical words.
 * @returns The MQTT topic name.
 * @throws {@link @core/contracts!CoreError} `E_VALIDATION` when a word is not canonical or decodes to a level
 *   holding `/`, `+`, `#` or U+0000 (see {@link wordToLevel}).
 * @example
 * ```ts
 * wordsToTopic('core.state.lights.kitchen') // 'core/state/lights/kitchen'
 * ```
 * @public
 */
export function wordsToTopic(words: string): string {
  return words.split('.').map(wordToLevel).join('/')
}

/**
 * Maps an MQTT topic filter to the bus pattern (AMQP 0-9-1 topic semantics) that matches the
 * events of the messages it matches: each level through {@link levelToWord}, `+` → `*`,
 * `#` → `#`, prefixed with `mqtt.message.`. `zigbee2mqtt/+/availability` →
 * `mqtt.message.zigbee2mqtt.*.availability`. MQTT's `#` also matches the parent level
 * (`a/#` matches `a`), as AMQP's `#` matches zero words.
 *
 * @param filter - An MQTT topic filter.
 * @returns The bus pattern.
 * @throws {@link @core/contracts!CoreError} `E_VALIDATION` for a malformed filter (see {@link assertMqttFilter}).
 * @see MQTT 5 §4.7.1 topic wildcards; AMQP 0-9-1 topic exchange
 * @example
 * ```ts
 * filterToPattern('zigbee2mqtt/#') // 'mqtt.message.zigbee2mqtt.#'
 * ```
 * @public
 */
export function filterToPattern(filter: string): string {
  assertMqttFilter(filter)
  const words = filter
    .split('/')
    .map((level) => (level === '+' ? '*' : level === '#' ? '#' : levelToWord(level)))
  return `${MESSAGE_EVENT_PREFIX}.${words.join('.')}`
}

/**
 * Checks an MQTT topic name, as used to publish: non-empty, no wildcard `+` or `#`, no U+0000,
 * no lone surrogate, at most 65,535 bytes of UTF-8.
 *
 * @param topic - The value to check.
 * @param subject - What it names in the error message. @defaultValue 'MQTT topic'
 * @throws {@link @core/contracts!CoreError} `E_VALIDATION` naming the rule broken.
 * @see MQTT 5 §4.7.3 "Topic semantic and usage"; §1.5.4 UTF-8 strings
 * @example
 * ```ts
 * assertMqttTopic('zigbee2mqtt/lamp/set') // ok
 * assertMqttTopic('zigbee2mqtt/+/set')    // throws E_VALIDATION
 * ```
 * @public
 */
export function assertMqttTopic(topic: unknown, subject = 'MQTT topic'): asserts topic is string {
  checkString(topic, subject)
  if (topic.includes('+') || topic.includes('#')) {
    throw invalid(
      subject,
      topic,
      'a topic name may not hold the wildcards "+" or "#" (they belong in subscription filters)',
    )
  }
}

/**
 * Checks an MQTT topic filter, as used to subscribe: non-empty; `+` only as a whole level;
 * `#` only as the whole last level; no U+0000, no lone surrogate; at most 65,535 bytes of UTF-8.
 *
 * @param filter - The value to check.
 * @param subject - What it names in the error message. @defaultValue 'MQTT topic filter'
 * @throws {@link @core/contracts!CoreError} `E_VALIDATION` naming the rule broken.
 * @see MQTT 5 §4.7.1 "Topic wildcards"
 * @example
 * ```ts
 * assertMqttFilter('zigbee2mqtt/+/availability') // ok
 * assertMqttFilter('zigbee2mqtt/#/set')          // throws E_VALIDATION
 * ```
 * @public
 */
export function assertMqttFilter(
  filter: unknown,
  subject = 'MQTT topic filter',
): asserts filter is string {
  checkString(filter, subject)
  const levels = filter.split('/')
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i] as string
    if (level === '+' || (level === '#' && i === levels.length - 1)) continue
    if (level.includes('#')) {
      throw invalid(subject, filter, '"#" must be the whole last level (as in "a/b/#")')
    }
    if (level.includes('+')) {
      throw invalid(subject, filter, '"+" must be a whole level (as in "a/+/c")')
    }
  }
}

/**
 * True when the MQTT topic name `topic` matches the MQTT filter `filter` (`+` one level, `#`
 * the rest including none; a filter starting with a wildcard does not match topics starting
 * with `$`). Both are assumed valid.
 * @see MQTT 5 §4.7.1, §4.7.2 "Topics beginning with $"
 * @example
 * ```ts
 * mqttTopicMatches('a/+/c', 'a/b/c') // true
 * ```
 * @public
 */
export function mqttTopicMatches(filter: string, topic: string): boolean {
  if (topic.startsWith('$') && (filter.startsWith('+') || filter.startsWith('#'))) return false
  const f = filter.split('/')
  const t = topic.split('/')
  for (let i = 0; i < f.length; i++) {
    const level = f[i]
    if (level === '#') return true
    if (i >= t.length) return false
    if (level !== '+' && level !== t[i]) return false
  }
  return f.length === t.length
}

/** Decodes a word; `undefined` when it is not a canonical encoding of a topic-name level. */
function decodeWord(word: string): string | undefined {
  if (word === EMPTY_LEVEL_WORD) return ''
  if (PLAIN_LEVEL.test(word)) return word
  let level: string
  try {
    level = decodeURIComponent(word)
  } catch {
    return undefined
  }
  if (FORBIDDEN_IN_LEVEL.test(level) || level.includes('\u0000')) return undefined
  return levelToWord(level) === word ? level : undefined
}

function checkString(value: unknown, subject: string): asserts value is string {
  if (typeof value !== 'string' || value.length === 0) {
    throw invalid(subject, value, 'it must be a non-empty string')
  }
  if (value.includes('\u0000')) throw invalid(subject, value, 'it may not hold U+0000')
  if (LONE_SURROGATE.test(value)) {
    throw invalid(subject, value, 'it is not valid UTF-8 (a lone surrogate)')
  }
  if (Buffer.byteLength(value, 'utf8') > MAX_MQTT_TOPIC_BYTES) {
    throw invalid(subject, value, `it may be at most ${MAX_MQTT_TOPIC_BYTES} bytes of UTF-8`)
  }
}

function invalid(subject: string, value: unknown, rule: string): CoreError {
  const shown = typeof value === 'string' && value.length > 200 ? `${value.slice(0, 200)}…` : value
  return new CoreError('E_VALIDATION', `Invalid ${subject} ${JSON.stringify(shown)}: ${rule}`, {
    details: { topic: shown },
  })
}
