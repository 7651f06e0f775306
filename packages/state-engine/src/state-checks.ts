import { assertKey, assertNamespace, CoreError, MAX_TOPIC_BYTES, MAX_WORDS } from '@core/contracts'

/** First word of every state change topic: `state.<namespace>.<key>`. */
export const TOPIC_ROOT = 'state'

/** Most (namespace, key) pairs remembered as already checked; the memo is cleared when full. */
const CHECKED_MAX = 10_000
const checked = new Map<string, Map<string, string>>()
let checkedCount = 0

/**
 * Checks `namespace` and `key` and returns the change topic `state.<namespace>.<key>`, which
 * must itself be a valid topic. Both are ASCII (see their patterns), so length = bytes.
 * Pairs that passed are remembered (up to {@link CHECKED_MAX}), so a hot key is checked once.
 */
export function topicOf(namespace: string, key: string): string {
  const known = checked.get(namespace)?.get(key)
  if (known !== undefined) return known
  assertNamespace(namespace, 'state namespace')
  assertKey(key, 'state key')
  const topic = `${TOPIC_ROOT}.${namespace}.${key}`
  let words = 3
  for (let i = 0; i < key.length; i++) if (key.charCodeAt(i) === 46) words++
  if (topic.length > MAX_TOPIC_BYTES || words > MAX_WORDS) {
    throw new CoreError(
      'E_VALIDATION',
      `State key "${key}" in namespace "${namespace}" is too long: its change topic "${topic}" must fit in ${MAX_TOPIC_BYTES} bytes and ${MAX_WORDS} words`,
      { details: { namespace, key } },
    )
  }
  if (checkedCount >= CHECKED_MAX) {
    checked.clear()
    checkedCount = 0
  }
  let keys = checked.get(namespace)
  if (keys === undefined) {
    keys = new Map()
    checked.set(namespace, keys)
  }
  keys.set(key, topic)
  checkedCount++
  return topic
}

export function checkTtl(ttlMs: unknown): void {
  if (typeof ttlMs !== 'number' || !Number.isSafeInteger(ttlMs) || ttlMs < 1) {
    throw new CoreError(
      'E_VALIDATION',
      `Invalid ttlMs ${String(ttlMs)}: use a whole number of milliseconds, at least 1`,
      {
        details: { ttlMs },
      },
    )
  }
}

export function checkRevision(ifRevision: unknown): void {
  if (typeof ifRevision !== 'number' || !Number.isSafeInteger(ifRevision) || ifRevision < 0) {
    throw new CoreError(
      'E_VALIDATION',
      `Invalid ifRevision ${String(ifRevision)}: use a revision read from the key (1 or more), or 0 for "only if absent"`,
      { details: { ifRevision } },
    )
  }
}

export function conflict(
  namespace: string,
  key: string,
  expected: number,
  actual: number,
): CoreError {
  const found = actual === 0 ? 'does not exist' : `is at revision ${actual}`
  const wanted = expected === 0 ? 'expected it to be absent' : `expected revision ${expected}`
  return new CoreError(
    'E_CONFLICT',
    `State key "${key}" in namespace "${namespace}" ${found}; ${wanted}. Read it again and retry with ifRevision: ${actual}`,
    { details: { namespace, key, expected, actual } },
  )
}
