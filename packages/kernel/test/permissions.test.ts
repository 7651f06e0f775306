import { CoreError } from '@core/contracts'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { PermissionChecker, patternContains } from '../src/permissions.js'

/** The AMQP 0-9-1 topic matching definition, word by word (the reference for the properties). */
function matches(pattern: string[], topic: string[]): boolean {
  if (pattern.length === 0) return topic.length === 0
  const [head, ...rest] = pattern
  if (head === '#')
    return matches(rest, topic) || (topic.length > 0 && matches(pattern, topic.slice(1)))
  if (topic.length === 0) return false
  return (head === '*' || head === topic[0]) && matches(rest, topic.slice(1))
}

/** Every topic of 1..maxLen words over `alphabet`. */
function topics(alphabet: string[], maxLen: number): string[][] {
  const out: string[][] = []
  let level: string[][] = [[]]
  for (let len = 1; len <= maxLen; len++) {
    level = level.flatMap((t) => alphabet.map((w) => [...t, w]))
    out.push(...level)
  }
  return out
}

const word = fc.constantFrom('a', 'b', '*', '#')
const pattern = fc.array(word, { minLength: 1, maxLength: 4 }).map((w) => w.join('.'))
// `c` appears in no pattern: it plays the part of "any other word".
const universe = topics(['a', 'b', 'c'], 7)

describe('patternContains (AMQP 0-9-1 pattern containment)', () => {
  it.each([
    ['#', 'anything.at.all', true],
    ['#', '#', true],
    ['devices.#', 'devices', true],
    ['devices.#', 'devices.*.kitchen', true],
    ['devices.#', 'devices.#', true],
    ['devices.*', 'devices.#', false],
    ['devices.*', 'devices.light', true],
    ['devices.*', 'devices.light.on', false],
    ['*.light', 'devices.light', true],
    ['devices.light', 'devices.*', false],
    ['#.battery', 'devices.*.battery', true],
    ['#.battery', 'devices.#', false],
    ['a.#.b', 'a.b', true],
    ['a.#.b', 'a.x.y.b', true],
    ['a.#.b', 'a.#.c.b', true],
    ['a.#.b', 'a.#', false],
    ['#.#', '#', true],
    ['*.#', '#', true],
    ['#.*', '*.#', true],
    ['*.*.#', '#', false],
    ['a.*.#', 'a.#', false],
  ])('should say whether %s contains %s', (outer, inner, expected) => {
    expect(patternContains(outer, inner)).toBe(expected)
  })

  it('should agree with matching on every topic: containment holds exactly when no topic matched by inner escapes outer', () => {
    fc.assert(
      fc.property(pattern, pattern, (outer, inner) => {
        const o = outer.split('.')
        const i = inner.split('.')
        const counterexample = universe.find((t) => matches(i, t) && !matches(o, t))
        expect(patternContains(outer, inner)).toBe(counterexample === undefined)
      }),
      { numRuns: 400 },
    )
  })

  it('should treat a topic without wildcards as "pattern matches topic"', () => {
    const topic = fc.array(fc.constantFrom('a', 'b', 'c'), { minLength: 1, maxLength: 6 })
    fc.assert(
      fc.property(pattern, topic, (p, t) => {
        expect(patternContains(p, t.join('.'))).toBe(matches(p.split('.'), t))
      }),
      { numRuns: 400 },
    )
  })

  it('should be reflexive and transitive', () => {
    fc.assert(
      fc.property(pattern, pattern, pattern, (a, b, c) => {
        expect(patternContains(a, a)).toBe(true)
        if (patternContains(a, b) && patternContains(b, c)) expect(patternContains(a, c)).toBe(true)
      }),
      { numRuns: 300 },
    )
  })
})

describe('PermissionChecker', () => {
  const checker = (): PermissionChecker =>
    new PermissionChecker('lights', {
      services: { call: ['devices.*'], register: ['shared.lights-*'] },
      events: { publish: ['alerts.#'], subscribe: ['devices.#', '#.battery'] },
      state: { read: ['devices.#'], write: ['scenes.current'] },
      storage: { read: ['devices.#'] },
    })

  it('should allow everything inside the plugin namespace without any permission', () => {
    const c = new PermissionChecker('lights', undefined)
    expect(c.allows('services.call', 'lights.toggle')).toBe(true)
    expect(c.allows('services.register', 'lights.toggle')).toBe(true)
    expect(c.allows('events.publish', 'lights.kitchen.changed')).toBe(true)
    expect(c.allows('events.subscribe', 'lights.#')).toBe(true)
    expect(c.allows('events.subscribe', 'state.lights.#')).toBe(true)
    expect(c.allows('state.write', 'lights.kitchen')).toBe(true)
    expect(c.allows('storage.write', 'lights.kitchen')).toBe(true)
  })

  it('should refuse by default anything outside the plugin namespace', () => {
    const c = new PermissionChecker('lights', undefined)
    expect(c.allows('services.call', 'devices.add')).toBe(false)
    expect(c.allows('events.subscribe', '#')).toBe(false)
    expect(c.allows('events.subscribe', '*.changed')).toBe(false)
    expect(c.allows('events.subscribe', 'state.#')).toBe(false)
    expect(c.allows('events.publish', 'core.plugin.started')).toBe(false)
    expect(c.allows('events.publish', 'state.lights.kitchen')).toBe(false)
    expect(c.allows('state.read', 'devices.lamp')).toBe(false)
  })

  it('should allow what a manifest pattern covers and nothing more', () => {
    const c = checker()
    expect(c.allows('services.call', 'devices.add')).toBe(true)
    expect(c.allows('services.call', 'devices.add.more')).toBe(false)
    expect(c.allows('services.register', 'shared.lights-on')).toBe(false)
    expect(c.allows('events.publish', 'alerts.fire.kitchen')).toBe(true)
    expect(c.allows('events.subscribe', 'devices.*.kitchen')).toBe(true)
    expect(c.allows('events.subscribe', 'sensors.#.battery')).toBe(true)
    expect(c.allows('events.subscribe', 'sensors.#')).toBe(false)
    expect(c.allows('state.read', 'devices.lamp.on')).toBe(true)
    expect(c.allows('state.write', 'devices.lamp')).toBe(false)
    expect(c.allows('state.write', 'scenes.current')).toBe(true)
    expect(c.allows('storage.read', 'devices.x')).toBe(true)
    expect(c.allows('storage.write', 'devices.x')).toBe(false)
  })

  it('should refuse with E_FORBIDDEN naming the plugin, the action and the resource, and count it', () => {
    const c = checker()
    let error: unknown
    try {
      c.check('events.subscribe', '#')
    } catch (e) {
      error = e
    }
    expect(CoreError.is(error, 'E_FORBIDDEN')).toBe(true)
    const e = error as CoreError
    expect(e.message).toContain('"lights"')
    expect(e.message).toContain('subscribe')
    expect(e.message).toContain('"#"')
    expect(e.message).toContain('corePlugin.permissions.events.subscribe')
    expect(e.details).toMatchObject({ plugin: 'lights', action: 'events.subscribe', resource: '#' })
    expect(c.denials).toBe(1)
  })
})
