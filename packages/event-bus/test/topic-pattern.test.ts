import { CoreError } from '@core/contracts'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createTopicMatcher, MAX_PATTERN_HASHES, normalizePattern } from '../src/topic-pattern.js'

/** The definition of AMQP 0-9-1 topic matching, written as plainly as possible. */
function reference(pattern: readonly string[], topic: readonly string[]): boolean {
  if (pattern.length === 0) return topic.length === 0
  const [head, ...rest] = pattern
  if (head === '#')
    return reference(rest, topic) || (topic.length > 0 && reference(pattern, topic.slice(1)))
  if (topic.length === 0) return false
  return (head === '*' || head === topic[0]) && reference(rest, topic.slice(1))
}

function refMatches(pattern: string, topic: string): boolean {
  return reference(pattern.split('.'), topic.split('.'))
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn()
    return undefined
  } catch (error) {
    return CoreError.is(error) ? error.code : 'not a CoreError'
  }
}

// RabbitMQ's own topic-routing test table (rabbit_tests.erl, test_topic_matching; as carried by
// qlobber's test/rabbitmq.js), minus the empty binding key and routing key, which topics and
// patterns here refuse.
const RABBIT_BINDINGS: [string, string][] = [
  ['a.b.c', 't1'],
  ['a.*.c', 't2'],
  ['a.#.b', 't3'],
  ['a.b.b.c', 't4'],
  ['#', 't5'],
  ['#.#', 't6'],
  ['#.b', 't7'],
  ['*.*', 't8'],
  ['a.*', 't9'],
  ['*.b.c', 't10'],
  ['a.#', 't11'],
  ['a.#.#', 't12'],
  ['b.b.c', 't13'],
  ['a.b.b', 't14'],
  ['a.b', 't15'],
  ['b.c', 't16'],
  ['*.*.*', 't18'],
  ['vodka.martini', 't19'],
  ['a.b.c', 't20'],
  ['*.#', 't21'],
  ['#.*.#', 't22'],
  ['*.#.#', 't23'],
  ['#.#.#', 't24'],
  ['*', 't25'],
  ['#.b.#', 't26'],
]

const RABBIT_EXPECTED: [string, string[]][] = [
  [
    'a.b.c',
    ['t1', 't2', 't5', 't6', 't10', 't11', 't12', 't18', 't20', 't21', 't22', 't23', 't24', 't26'],
  ],
  [
    'a.b',
    ['t3', 't5', 't6', 't7', 't8', 't9', 't11', 't12', 't15', 't21', 't22', 't23', 't24', 't26'],
  ],
  [
    'a.b.b',
    ['t3', 't5', 't6', 't7', 't11', 't12', 't14', 't18', 't21', 't22', 't23', 't24', 't26'],
  ],
  ['b.c.c', ['t5', 't6', 't18', 't21', 't22', 't23', 't24', 't26']],
  ['a.a.a.a.a', ['t5', 't6', 't11', 't12', 't21', 't22', 't23', 't24']],
  ['vodka.gin', ['t5', 't6', 't8', 't21', 't22', 't23', 't24']],
  ['vodka.martini', ['t5', 't6', 't8', 't19', 't21', 't22', 't23', 't24']],
  ['b.b.c', ['t5', 't6', 't10', 't13', 't18', 't21', 't22', 't23', 't24', 't26']],
  ['nothing.here.at.all', ['t5', 't6', 't21', 't22', 't23', 't24']],
  ['oneword', ['t5', 't6', 't21', 't22', 't23', 't24', 't25']],
]

// After removing t1, t5, t11, t19 and t21 (RabbitMQ's second table).
const RABBIT_EXPECTED_AFTER_REMOVE: [string, string[]][] = [
  ['a.b.c', ['t2', 't6', 't10', 't12', 't18', 't20', 't22', 't23', 't24', 't26']],
  ['a.b', ['t3', 't6', 't7', 't8', 't9', 't12', 't15', 't22', 't23', 't24', 't26']],
  ['a.b.b', ['t3', 't6', 't7', 't12', 't14', 't18', 't22', 't23', 't24', 't26']],
  ['b.c.c', ['t6', 't18', 't22', 't23', 't24', 't26']],
  ['a.a.a.a.a', ['t6', 't12', 't22', 't23', 't24']],
  ['vodka.gin', ['t6', 't8', 't22', 't23', 't24']],
  ['vodka.martini', ['t6', 't8', 't22', 't23', 't24']],
  ['b.b.c', ['t6', 't10', 't13', 't18', 't22', 't23', 't24', 't26']],
  ['nothing.here.at.all', ['t6', 't22', 't23', 't24']],
  ['oneword', ['t6', 't22', 't23', 't24', 't25']],
]

const sorted = (values: readonly string[]): string[] => [...values].sort()

describe('createTopicMatcher (AMQP 0-9-1 topic matching)', () => {
  it('should route RabbitMQ tutorial 5 messages to the same queues as RabbitMQ', () => {
    const m = createTopicMatcher<string>()
    m.add('*.orange.*', 'Q1')
    m.add('*.*.rabbit', 'Q2')
    m.add('lazy.#', 'Q2')
    const table: [string, string[]][] = [
      ['quick.orange.rabbit', ['Q1', 'Q2']],
      ['lazy.orange.elephant', ['Q1', 'Q2']],
      ['quick.orange.fox', ['Q1']],
      ['lazy.brown.fox', ['Q2']],
      ['lazy.pink.rabbit', ['Q2']], // matches both Q2 bindings, delivered once
      ['quick.brown.fox', []],
      ['orange', []],
      ['quick.orange.new.rabbit', []],
      ['lazy.orange.new.rabbit', ['Q2']],
      ['quick.orange.male.rabbit', []],
    ]
    for (const [topic, queues] of table)
      expect([topic, sorted(m.match(topic))]).toEqual([topic, queues])
  })

  it("should agree with RabbitMQ's topic routing test table, before and after removing bindings", () => {
    const m = createTopicMatcher<string>()
    for (const [pattern, name] of RABBIT_BINDINGS) m.add(pattern, name)
    for (const [topic, names] of RABBIT_EXPECTED) {
      expect([topic, sorted(m.match(topic))]).toEqual([topic, sorted(names)])
    }
    for (const name of ['t1', 't5', 't11', 't19', 't21']) {
      const [pattern] = RABBIT_BINDINGS.find(([, n]) => n === name) as [string, string]
      m.remove(pattern, name)
    }
    for (const [topic, names] of RABBIT_EXPECTED_AFTER_REMOVE) {
      expect([topic, sorted(m.match(topic))]).toEqual([topic, sorted(names)])
    }
  })

  it('should treat the edge cases as RabbitMQ does: lone #, #.#, a.#.b, trailing #, a.*.#', () => {
    const cases: [string, string, boolean][] = [
      ['#', 'a', true],
      ['#', 'a.b.c.d', true],
      ['#.#', 'a', true],
      ['#.#', 'a.b', true],
      ['a.#.b', 'a.b', true],
      ['a.#.b', 'a.x.b', true],
      ['a.#.b', 'a.x.y.b', true],
      ['a.#.b', 'a.b.c', false],
      ['a.#.b', 'b', false],
      ['a.#', 'a', true],
      ['a.#', 'a.b.c', true],
      ['a.#', 'b.a', false],
      ['a.*.#', 'a', false],
      ['a.*.#', 'a.b', true],
      ['a.*.#', 'a.b.c.d', true],
      ['#.a', 'a', true],
      ['#.a', 'x.y.a', true],
      ['#.a', 'a.x', false],
      ['*', 'a', true],
      ['*', 'a.b', false],
      ['*.*', 'a', false],
      ['a.*', 'a', false],
      ['#.*', 'a', true],
      ['#.*', 'a.b', true],
      ['*.#.*', 'a', false],
      ['*.#.*', 'a.b', true],
      ['#.a.#', 'a', true],
      ['#.a.#', 'x.a.y', true],
      ['#.a.#', 'x.b.y', false],
      ['a.b', 'a.b', true],
      ['a.b', 'a.b.c', false],
      ['A.b', 'a.b', false], // words are case-sensitive, as in RabbitMQ
    ]
    for (const [pattern, topic, expected] of cases) {
      const m = createTopicMatcher<true>()
      m.add(pattern, true)
      expect([pattern, topic, m.match(topic).length === 1]).toEqual([pattern, topic, expected])
      expect(refMatches(pattern, topic)).toBe(expected)
    }
  })

  it('should return each value once even when a pattern matches along several paths', () => {
    const m = createTopicMatcher<string>()
    m.add('#.a.#', 'x')
    m.add('#.#.#', 'y')
    m.add('a.b', 'z')
    m.add('#', 'z') // the same value under two patterns, as one queue with two bindings
    expect(m.match('a.a.a')).toEqual(['x', 'y', 'z'])
    expect(m.match('a.b')).toEqual(['x', 'y', 'z'])
  })

  it('should return values in the order they were added, whatever kind of pattern', () => {
    const m = createTopicMatcher<number>()
    m.add('#', 1)
    m.add('lights.kitchen', 2)
    m.add('lights.*', 3)
    m.add('lights.kitchen', 4)
    m.add('#.kitchen', 5)
    expect(m.match('lights.kitchen')).toEqual([1, 2, 3, 4, 5])
  })

  it('should see adds and removes at once although results are cached', () => {
    const m = createTopicMatcher<string>()
    m.add('a.*', 'one')
    expect(m.match('a.b')).toEqual(['one'])
    m.add('a.b', 'two')
    expect(m.match('a.b')).toEqual(['one', 'two'])
    m.remove('a.*', 'one')
    expect(m.match('a.b')).toEqual(['two'])
    m.remove('a.b', 'two')
    expect(m.match('a.b')).toEqual([])
    expect(m.size).toBe(0)
  })

  it('should remove one value under one pattern and ignore unknown pairs', () => {
    const m = createTopicMatcher<string>()
    m.add('a.#', 'x')
    m.add('a.#', 'y')
    m.remove('a.#', 'nope')
    m.remove('b.#', 'x')
    m.remove('not a pattern', 'x')
    expect(m.size).toBe(2)
    m.remove('a.#', 'x')
    expect(m.match('a.b')).toEqual(['y'])
  })

  it('should stay correct when the cache is smaller than the set of topics, or off', () => {
    for (const cacheSize of [0, 1, 3]) {
      const m = createTopicMatcher<string>({ cacheSize })
      m.add('t.*', 'star')
      m.add('#.x3', 'hash')
      for (let round = 0; round < 3; round++) {
        for (let i = 0; i < 10; i++) {
          const expected = i === 3 ? ['star', 'hash'] : ['star']
          expect(m.match(`t.x${i}`)).toEqual(expected)
        }
      }
    }
    expect(codeOf(() => createTopicMatcher({ cacheSize: -1 }))).toBe('E_VALIDATION')
  })

  it('should refuse malformed patterns and topics with E_VALIDATION', () => {
    const m = createTopicMatcher<true>()
    for (const bad of [
      '',
      '.',
      'a.',
      '.a',
      'a..b',
      'a.b*',
      'a.#b',
      'a b',
      'é',
      '#.#.a.#.b.#.c.#.d.#',
      'a'.repeat(256),
    ]) {
      expect([bad, codeOf(() => m.add(bad, true))]).toEqual([bad, 'E_VALIDATION'])
    }
    const tooManyWords = Array.from({ length: 33 }, () => 'w').join('.')
    for (const bad of [
      '',
      'a..b',
      'a.*',
      'a.#',
      'a b',
      '.a',
      'é',
      tooManyWords,
      'a'.repeat(256),
      42,
    ]) {
      expect([bad, codeOf(() => m.match(bad as string))]).toEqual([bad, 'E_VALIDATION'])
    }
  })

  it(`should allow up to ${MAX_PATTERN_HASHES} # words once adjacent wildcards are collapsed`, () => {
    const m = createTopicMatcher<true>()
    expect(codeOf(() => m.add('#.a.#.b.#.c.#', true))).toBeUndefined()
    expect(codeOf(() => m.add('#.#.#.#.#.#.#.#', true))).toBeUndefined() // collapses to `#`
    expect(codeOf(() => m.add('#.a.#.b.#.c.#.d.#', true))).toBe('E_VALIDATION')
  })

  it('should match only patterns that the reference definition matches (property)', () => {
    const word = fc.constantFrom('a', 'b', 'c')
    const patternWord = fc.constantFrom('a', 'b', 'c', '*', '#')
    const topic = fc.array(word, { minLength: 1, maxLength: 7 }).map((w) => w.join('.'))
    const pattern = fc
      .array(patternWord, { minLength: 1, maxLength: 7 })
      .map((w) => w.join('.'))
      .filter((p) => {
        try {
          normalizePattern(p)
          return true
        } catch {
          return false
        }
      })
    fc.assert(
      fc.property(
        fc.array(pattern, { minLength: 1, maxLength: 12 }),
        fc.array(topic, { maxLength: 12 }),
        (patterns, topics) => {
          const m = createTopicMatcher<number>()
          for (const [i, p] of patterns.entries()) m.add(p, i)
          for (const t of topics) {
            const expected = patterns.flatMap((p, i) => (refMatches(p, t) ? [i] : []))
            expect(m.match(t)).toEqual(expected)
          }
        },
      ),
      { numRuns: 500 },
    )
  })

  it('should rewrite a pattern into a canonical form that matches the same topics (property)', () => {
    expect(normalizePattern('#.#')).toBe('#')
    expect(normalizePattern('#.*')).toBe('*.#')
    expect(normalizePattern('a.#.*.#.b')).toBe('a.*.#.b')
    expect(normalizePattern('a.*.b')).toBe('a.*.b')
    const patternWord = fc.constantFrom('a', 'b', '*', '#')
    fc.assert(
      fc.property(
        fc.array(patternWord, { minLength: 1, maxLength: 6 }),
        fc.array(fc.constantFrom('a', 'b'), { minLength: 1, maxLength: 6 }),
        (p, t) => {
          const pattern = p.join('.')
          let canonical: string
          try {
            canonical = normalizePattern(pattern)
          } catch {
            return // more # words than allowed
          }
          expect(refMatches(canonical, t.join('.'))).toBe(refMatches(pattern, t.join('.')))
        },
      ),
      { numRuns: 1000 },
    )
  })
})
