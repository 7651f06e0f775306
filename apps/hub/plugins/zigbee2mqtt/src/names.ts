/**
 * How MQTT topic levels become event words and state key words: the rule of `@core/mqtt`
 * (its README, "Topic mapping"), repeated here because a plugin reaches the bridge only through
 * its services and events, never by importing it. Letters, digits, `_` and `-` stay; every
 * other character becomes the percent-encoding of its UTF-8 bytes in upper-case hex
 * (`living room` → `living%20room`, `.` → `%2E`); the empty level is `%`. A test checks it
 * against `@core/mqtt`'s own `topicToWords`.
 */

const PLAIN = /^[A-Za-z0-9_-]+$/

/** One MQTT topic level (or one `/`-separated part of a friendly name) as one word. */
export function levelToWord(level: string): string {
  if (level === '') return '%'
  if (PLAIN.test(level)) return level
  return encodeURIComponent(level).replace(
    /[.!~*'()]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  )
}

/** A topic (or a friendly name with `/`) as dot-separated words, one per level. */
export function topicToWords(topic: string): string {
  return topic.split('/').map(levelToWord).join('.')
}

/** The state key of a device: `devices.<friendly name words>`. */
export function deviceKey(friendlyName: string): string {
  return `devices.${topicToWords(friendlyName)}`
}
