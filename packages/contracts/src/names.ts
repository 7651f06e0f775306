import { CoreError } from './errors.js'

/**
 * A namespace: a plugin's name, which owns its services, event types, state and storage.
 * Lower-case letter first, then up to 63 lower-case letters, digits or `-` (npm-like).
 * @public
 */
export const NAMESPACE_PATTERN: RegExp = /^[a-z][a-z0-9-]{0,63}$/

/**
 * One word of a topic, a state key or a service name: letters, digits, `_`, `-` and `%`
 * (for percent-encoded bytes, RFC 3986 style, when outside names must be carried).
 * Dots separate words; empty words are refused.
 * @public
 */
export const WORD_PATTERN: RegExp = /^[A-Za-z0-9_%-]+$/

/** Longest topic or pattern, in bytes of UTF-8: the AMQP 0-9-1 `shortstr` limit. @public */
export const MAX_TOPIC_BYTES = 255

/** Most words in a topic, pattern or key. @public */
export const MAX_WORDS = 32

const TOPIC_RE = /^[A-Za-z0-9_%-]+(?:\.[A-Za-z0-9_%-]+)*$/
const PATTERN_WORD_RE = /^(?:[A-Za-z0-9_%-]+|\*|#)$/
const SERVICE_RE = /^[a-z][a-z0-9-]{0,63}(?:\.[A-Za-z0-9_-]+)+$/

/**
 * Checks a namespace against {@link NAMESPACE_PATTERN}.
 * @param namespace - The namespace to check.
 * @param subject - What it names in the error message, e.g. `state namespace`.
 * @throws {@link CoreError} `E_VALIDATION` when it does not match.
 * @public
 */
export function assertNamespace(
  namespace: unknown,
  subject = 'namespace',
): asserts namespace is string {
  if (typeof namespace !== 'string' || !NAMESPACE_PATTERN.test(namespace)) {
    throw new CoreError(
      'E_VALIDATION',
      `Invalid ${subject} ${JSON.stringify(namespace)}: use 1-64 characters, a lower-case letter first, then lower-case letters, digits or "-"`,
      {
        details: {
          [subject.split(' ').pop() ?? 'namespace']: namespace,
          rule: NAMESPACE_PATTERN.source,
        },
      },
    )
  }
}

/**
 * Checks a topic (an event type): dot-separated words of {@link WORD_PATTERN}, at most
 * {@link MAX_TOPIC_BYTES} bytes and {@link MAX_WORDS} words. The first word is the namespace
 * by convention; it is not checked here.
 * @throws {@link CoreError} `E_VALIDATION` naming the rule broken.
 * @see AMQP 0-9-1, topic exchange routing keys
 * @public
 */
export function assertTopic(topic: unknown, subject = 'topic'): asserts topic is string {
  if (typeof topic !== 'string' || !TOPIC_RE.test(topic)) {
    throw invalid(
      subject,
      topic,
      'use dot-separated words of letters, digits, "_", "-" or "%", with no empty word',
    )
  }
  checkSize(topic, subject)
}

/**
 * Checks a subscription pattern: like a topic, but a word may also be `*` (exactly one word)
 * or `#` (zero or more words), each standing alone between dots.
 * @throws {@link CoreError} `E_VALIDATION` naming the rule broken.
 * @see AMQP 0-9-1, topic exchange binding keys
 * @public
 */
export function assertPattern(pattern: unknown, subject = 'pattern'): asserts pattern is string {
  if (typeof pattern !== 'string' || pattern.length === 0) {
    throw invalid(subject, pattern, 'a pattern is a non-empty string')
  }
  for (const word of pattern.split('.')) {
    if (!PATTERN_WORD_RE.test(word)) {
      throw invalid(
        subject,
        pattern,
        `word ${JSON.stringify(word)} is not allowed: use letters, digits, "_", "-", "%", or a lone "*" or "#"`,
      )
    }
  }
  checkSize(pattern, subject)
}

/**
 * Checks a state key: dot-separated words of {@link WORD_PATTERN} (so that
 * `state.<namespace>.<key>` is a valid topic).
 * @throws {@link CoreError} `E_VALIDATION` naming the rule broken.
 * @public
 */
export function assertKey(key: unknown, subject = 'key'): asserts key is string {
  assertTopic(key, subject)
}

/**
 * Checks a service name: `namespace.method`, the namespace per {@link NAMESPACE_PATTERN},
 * then one or more words of letters, digits, `_` or `-`.
 * @throws {@link CoreError} `E_VALIDATION` naming the rule broken.
 * @public
 */
export function assertServiceName(name: unknown, subject = 'service name'): asserts name is string {
  if (typeof name !== 'string' || !SERVICE_RE.test(name)) {
    throw invalid(
      subject,
      name,
      'use "namespace.method": a namespace (lower-case, digits, "-"), a dot, then words of letters, digits, "_" or "-"',
    )
  }
  checkSize(name, subject)
}

/**
 * The namespace of a topic, key-qualified name or service name: its first word.
 * @public
 */
export function namespaceOf(name: string): string {
  const dot = name.indexOf('.')
  return dot === -1 ? name : name.slice(0, dot)
}

/**
 * First words of the topics only the kernel publishes: `state.<namespace>.<key>` (state changes)
 * and `core.…` (plugin lifecycle, bus and node signals). Plugins, HTTP and MQTT clients and
 * remote nodes are refused with `E_FORBIDDEN` when they publish under them, whatever their
 * permissions say, so a consumer can trust such an event's type.
 * @public
 */
export const KERNEL_TOPIC_NAMESPACES: readonly string[] = Object.freeze(['state', 'core'])

/**
 * True when the event type `topic` lies under a namespace only the kernel publishes
 * ({@link KERNEL_TOPIC_NAMESPACES}): its first word is `state` or `core`.
 *
 * @param topic - Dot-separated event type.
 * @returns Whether only the kernel may publish there.
 * @example
 * ```ts
 * isKernelTopic('state.devices.lamp') // true
 * isKernelTopic('devices.lamp.changed') // false
 * ```
 * @public
 */
export function isKernelTopic(topic: string): boolean {
  const first = namespaceOf(topic)
  return first === 'state' || first === 'core'
}

/**
 * Throws unless `topic` may be published by someone other than the kernel.
 *
 * @param topic - The event type about to be published.
 * @param who - Who publishes, for the message (`plugin "x"`, `token "t1"`, `MQTT client`).
 * @throws {@link CoreError} `E_FORBIDDEN` when {@link isKernelTopic} says the kernel alone
 *   publishes it; `details: { topic }`.
 * @public
 */
export function assertPublishableTopic(topic: string, who: string): void {
  if (!isKernelTopic(topic)) return
  throw new CoreError(
    'E_FORBIDDEN',
    `${who} may not publish "${topic}": topics under ${KERNEL_TOPIC_NAMESPACES.map((n) => `"${n}."`).join(' and ')} are published by the kernel alone (state changes go through state.set; lifecycle signals come from the kernel)`,
    { details: { topic } },
  )
}

function invalid(subject: string, value: unknown, rule: string): CoreError {
  return new CoreError('E_VALIDATION', `Invalid ${subject} ${JSON.stringify(value)}: ${rule}`, {
    details: { [subject.split(' ').pop() ?? 'value']: value },
  })
}

function checkSize(value: string, subject: string): void {
  if (Buffer.byteLength(value, 'utf8') > MAX_TOPIC_BYTES) {
    throw invalid(subject, value, `at most ${MAX_TOPIC_BYTES} bytes`)
  }
  let words = 1
  for (let i = 0; i < value.length; i++) if (value.charCodeAt(i) === 46) words++
  if (words > MAX_WORDS) throw invalid(subject, value, `at most ${MAX_WORDS} words`)
}
