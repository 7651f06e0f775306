import { assertPattern, assertTopic, CoreError } from '@core/contracts'
import { Qlobber } from 'qlobber'

/**
 * Most `#` words a pattern may hold once runs of wildcards are collapsed (`#.#` counts as one).
 * Each `#` separated from the next by a literal word multiplies the worst-case matching work
 * by up to the topic's word count, so the bus caps it; RabbitMQ has no such cap.
 * @internal
 */
export const MAX_PATTERN_HASHES = 4

/** Default number of topics whose match results a {@link TopicMatcher} keeps. @internal */
export const DEFAULT_MATCH_CACHE_SIZE = 10_000

/**
 * Matches topics against AMQP 0-9-1 topic patterns and returns the values added with the
 * patterns that match. See {@link createTopicMatcher}.
 * @public
 */
export interface TopicMatcher<V> {
  /**
   * Adds `value` under `pattern`.
   * @throws {@link @core/contracts!CoreError} `E_VALIDATION` if `pattern` is not a valid pattern.
   */
  add(pattern: string, value: V): void
  /** Removes one `value` added under `pattern`; unknown pairs are ignored. */
  remove(pattern: string, value: V): void
  /**
   * The values whose pattern matches `topic`, each once, in the order they were added. The
   * array is shared with later calls for the same topic: do not modify it.
   * @throws {@link @core/contracts!CoreError} `E_VALIDATION` if `topic` is not a valid topic.
   */
  match(topic: string): readonly V[]
  /** Number of (pattern, value) pairs held. */
  readonly size: number
}

/** Options of {@link createTopicMatcher}. @public */
export interface CreateTopicMatcherOptions {
  /**
   * About how many topics' results are cached (between half and all of it; the least recently
   * used are forgotten first). Every `add` and `remove` invalidates the results, not the
   * record that a topic is valid. `0` turns the cache off.
   * @defaultValue 10_000
   */
  cacheSize?: number
}

/**
 * Creates a matcher of topics against AMQP 0-9-1 topic-exchange patterns, with RabbitMQ's
 * semantics: words are separated by `.`, `*` matches exactly one word and `#` matches zero or
 * more words, anywhere in the pattern (`#` alone matches every topic, `a.#.b` matches `a.b`,
 * `a.*.#` matches `a.x` and `a.x.y` but not `a`). A topic matched by a pattern along several
 * paths (`#.a.#` against `a.a`) yields its value once, as RabbitMQ delivers one copy per queue.
 *
 * Cost: patterns without wildcards live in a `Map`; wildcard patterns in a trie (qlobber, the
 * algorithm of RabbitMQ's own topic routing), so a lookup does not scan the patterns. Results are
 * cached per topic until the next `add`/`remove`, so a repeated topic costs one `Map` lookup and
 * is validated only once.
 *
 * Topics and patterns are checked with `assertTopic`/`assertPattern` of `@core/contracts`
 * (words of letters, digits, `_`, `-`, `%`; at most 255 bytes and 32 words); a pattern may hold
 * at most 4 `#` words once adjacent wildcards are collapsed (`#.#` is `#`, `#.*` is `*.#`).
 *
 * @param options - `cacheSize`.
 * @returns A {@link TopicMatcher}.
 * @throws {@link @core/contracts!CoreError} `E_VALIDATION` from `add` and `match` for a malformed pattern or topic.
 * @see AMQP 0-9-1, topic exchange; RabbitMQ tutorial 5 "Topics"
 * @example
 * ```ts
 * const matcher = createTopicMatcher<string>()
 * matcher.add('devices.*.kitchen.#', 'kitchen watcher')
 * matcher.match('devices.light.kitchen.changed') // ['kitchen watcher']
 * ```
 * @public
 */
export function createTopicMatcher<V>(options: CreateTopicMatcherOptions = {}): TopicMatcher<V> {
  const cacheSize = options.cacheSize ?? DEFAULT_MATCH_CACHE_SIZE
  if (!Number.isInteger(cacheSize) || cacheSize < 0) {
    throw new CoreError(
      'E_VALIDATION',
      `Invalid cacheSize ${String(cacheSize)}: use an integer >= 0`,
      {
        details: { cacheSize },
      },
    )
  }
  const exact = new Map<string, Entry<V>[]>()
  const wild = new Map<string, Entry<V>[]>()
  const trie = new Qlobber<Entry<V>>({
    separator: '.',
    wildcard_one: '*',
    wildcard_some: '#',
    // RabbitMQ's `*` matches any word, an empty one too. Topics here never have empty words
    // (assertTopic refuses them), so this only keeps qlobber's semantics equal to RabbitMQ's.
    match_empty_levels: true,
    max_words: 64,
    max_wildcard_somes: MAX_PATTERN_HASHES,
  })
  // Two generations instead of an LRU: when the young map is full it becomes the old one and
  // a fresh young map starts; a topic found in the old map moves back to the young one. (Deleting
  // a Map's first key one at a time costs O(n) per deletion in V8 until the table is rehashed.)
  const half = Math.ceil(cacheSize / 2)
  let young = new Map<string, CacheLine<V>>()
  let old = new Map<string, CacheLine<V>>()
  let generation = 0
  let seq = 0
  let size = 0
  let wildcards = 0
  // Values can come out of the trie twice only when some pattern holds two `#` or more (several
  // paths match) or some value was added more than once; otherwise `lookup` skips the dedup.
  let multiHash = 0
  let repeated = 0
  const counts = new Map<V, number>()

  const lookup = (topic: string): V[] => {
    const direct = exact.get(topic)
    const found = wildcards === 0 ? NONE : trie.match(topic)
    if (found.length === 0) {
      if (direct === undefined) return NONE
      if (direct.length === 1) return [(direct[0] as Entry<V>).value]
    }
    const all =
      direct === undefined ? found : found.length === 0 ? direct.slice() : direct.concat(found)
    if (all.length > 1) all.sort(bySeq)
    const out: V[] = new Array(all.length)
    if (multiHash === 0 && repeated === 0) {
      // No value can be found twice: one pattern per value, each matching along one path.
      for (let i = 0; i < all.length; i++) out[i] = (all[i] as Entry<V>).value
      return out
    }
    const seen = new Set<V>()
    let n = 0
    for (const entry of all) {
      if (seen.has(entry.value)) continue
      seen.add(entry.value)
      out[n++] = entry.value
    }
    out.length = n
    return out
  }

  return {
    add(pattern: string, value: V): void {
      const key = normalizePattern(pattern)
      const entry: Entry<V> = { seq: seq++, value }
      if (isLiteral(key)) {
        const list = exact.get(key)
        if (list === undefined) exact.set(key, [entry])
        else list.push(entry)
      } else {
        const list = wild.get(key)
        if (list === undefined) wild.set(key, [entry])
        else list.push(entry)
        trie.add(key, entry)
        wildcards++
      }
      if (hashCount(key) > 1) multiHash++
      const count = counts.get(value) ?? 0
      counts.set(value, count + 1)
      if (count === 1) repeated++
      size++
      generation++
    },
    remove(pattern: string, value: V): void {
      let key: string
      try {
        key = normalizePattern(pattern)
      } catch {
        return
      }
      const list = (isLiteral(key) ? exact : wild).get(key)
      const at = list === undefined ? -1 : list.findIndex((e) => e.value === value)
      if (list === undefined || at === -1) return
      const [entry] = list.splice(at, 1)
      if (list.length === 0) (isLiteral(key) ? exact : wild).delete(key)
      if (!isLiteral(key)) {
        trie.remove(key, entry)
        wildcards--
      }
      if (hashCount(key) > 1) multiHash--
      const count = counts.get(value) ?? 1
      if (count === 2) repeated--
      if (count === 1) counts.delete(value)
      else counts.set(value, count - 1)
      size--
      generation++
    },
    match(topic: string): readonly V[] {
      let line = young.get(topic)
      if (line === undefined) {
        line = old.get(topic)
        if (line === undefined) {
          assertTopic(topic)
          if (half === 0) return lookup(topic)
          line = { generation: -1, values: NONE }
        }
        if (young.size >= half) {
          old = young
          young = new Map()
        }
        young.set(topic, line)
      }
      if (line.generation !== generation) {
        line.values = lookup(topic)
        line.generation = generation
      }
      return line.values
    },
    get size(): number {
      return size
    },
  }
}

/**
 * Checks `pattern` and returns its canonical form: every run of adjacent wildcard words is
 * rewritten as its `*` words followed by one `#` when the run holds any (`#.#` → `#`,
 * `#.*.#` → `*.#`). The canonical form matches exactly the same topics.
 *
 * @throws {@link @core/contracts!CoreError} `E_VALIDATION` if `pattern` is malformed or holds more than
 *   {@link MAX_PATTERN_HASHES} `#` words once collapsed.
 * @internal
 */
export function normalizePattern(pattern: string): string {
  assertPattern(pattern)
  if (pattern.indexOf('#') === -1) return pattern
  const words = pattern.split('.')
  const out: string[] = []
  let stars = 0
  let hash = false
  let hashes = 0
  const flush = (): void => {
    for (; stars > 0; stars--) out.push('*')
    if (hash) {
      out.push('#')
      hashes++
    }
    hash = false
  }
  for (const word of words) {
    if (word === '*') stars++
    else if (word === '#') hash = true
    else {
      flush()
      out.push(word)
    }
  }
  flush()
  if (hashes > MAX_PATTERN_HASHES) {
    throw new CoreError(
      'E_VALIDATION',
      `Invalid pattern ${JSON.stringify(pattern)}: at most ${MAX_PATTERN_HASHES} "#" words separated by other words; merge them or subscribe with several patterns`,
      { details: { pattern } },
    )
  }
  return out.join('.')
}

interface Entry<V> {
  readonly seq: number
  readonly value: V
}

interface CacheLine<V> {
  generation: number
  values: V[]
}

function isLiteral(pattern: string): boolean {
  return pattern.indexOf('*') === -1 && pattern.indexOf('#') === -1
}

const NONE: never[] = []

function hashCount(pattern: string): number {
  let n = 0
  for (let i = pattern.indexOf('#'); i !== -1; i = pattern.indexOf('#', i + 1)) n++
  return n
}

function bySeq<V>(a: Entry<V>, b: Entry<V>): number {
  return a.seq - b.seq
}
