import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  assertKey,
  assertNamespace,
  assertPattern,
  assertPublishableTopic,
  assertServiceName,
  assertTopic,
  CoreError,
  isKernelTopic,
  MAX_TOPIC_BYTES,
  namespaceOf,
} from '../src/index.js'

function code(fn: () => void): string | undefined {
  try {
    fn()
    return undefined
  } catch (err) {
    return CoreError.is(err) ? err.code : 'not a CoreError'
  }
}

describe('names', () => {
  it('should accept valid namespaces and refuse the rest with E_VALIDATION', () => {
    for (const ok of ['a', 'devices', 'zigbee2mqtt', 'my-plugin', `a${'b'.repeat(63)}`]) {
      expect(code(() => assertNamespace(ok))).toBeUndefined()
    }
    for (const bad of [
      '',
      'A',
      '1a',
      '-a',
      'a.b',
      'a_b',
      '../x',
      'a\0',
      `a${'b'.repeat(64)}`,
      42,
      undefined,
    ]) {
      expect(code(() => assertNamespace(bad))).toBe('E_VALIDATION')
    }
  })

  it('should accept dot-separated topics and refuse empty words, wildcards and odd characters', () => {
    for (const ok of ['a', 'devices.light.kitchen.changed', 'a-b.c_d.E%20f', 'state.x.y']) {
      expect(code(() => assertTopic(ok))).toBeUndefined()
    }
    for (const bad of ['', '.', 'a.', '.a', 'a..b', 'a.*', 'a.#', 'a b', 'a/b', 'ä', 7]) {
      expect(code(() => assertTopic(bad))).toBe('E_VALIDATION')
    }
  })

  it('should refuse topics over 255 bytes of UTF-8 or 32 words', () => {
    expect(code(() => assertTopic('a'.repeat(MAX_TOPIC_BYTES)))).toBeUndefined()
    expect(code(() => assertTopic('a'.repeat(MAX_TOPIC_BYTES + 1)))).toBe('E_VALIDATION')
    expect(code(() => assertTopic(Array(32).fill('a').join('.')))).toBeUndefined()
    expect(code(() => assertTopic(Array(33).fill('a').join('.')))).toBe('E_VALIDATION')
  })

  it('should accept lone * and # words in patterns only', () => {
    for (const ok of ['#', '*', '#.#', 'a.#.b', 'a.*', '*.b.#', 'devices.*.kitchen.#']) {
      expect(code(() => assertPattern(ok))).toBeUndefined()
    }
    for (const bad of ['', 'a.', 'a*', 'a.b#', '**', 'a..#', '#a']) {
      expect(code(() => assertPattern(bad))).toBe('E_VALIDATION')
    }
  })

  it('should accept namespace.method service names', () => {
    for (const ok of ['lights.toggle', 'zigbee2mqtt.turn_on', 'a.b.c', 'my-plugin.doIt']) {
      expect(code(() => assertServiceName(ok))).toBeUndefined()
    }
    for (const bad of [
      'lights',
      'Lights.toggle',
      'lights.',
      '.toggle',
      'lights.to ggle',
      'lights.*',
    ]) {
      expect(code(() => assertServiceName(bad))).toBe('E_VALIDATION')
    }
  })

  it('should treat keys like topics', () => {
    expect(code(() => assertKey('kitchen.light'))).toBeUndefined()
    expect(code(() => assertKey('kitchen..light'))).toBe('E_VALIDATION')
  })

  it('should name the refused value and the rule in the message', () => {
    try {
      assertTopic('a..b')
      expect.unreachable()
    } catch (err) {
      expect((err as Error).message).toContain('"a..b"')
      expect((err as Error).message).toContain('empty word')
    }
  })

  it('namespaceOf returns the first word', () => {
    expect(namespaceOf('devices.light.on')).toBe('devices')
    expect(namespaceOf('devices')).toBe('devices')
  })

  it('any join of valid words is a valid topic and a valid pattern (property)', () => {
    const word = fc.stringMatching(/^[A-Za-z0-9_%-]{1,8}$/)
    fc.assert(
      fc.property(fc.array(word, { minLength: 1, maxLength: 20 }), (words) => {
        const topic = words.join('.')
        expect(code(() => assertTopic(topic))).toBeUndefined()
        expect(code(() => assertPattern(topic))).toBeUndefined()
      }),
    )
  })
})

describe('kernel topics', () => {
  it('should say that state.* and core.* are published by the kernel alone', () => {
    expect(isKernelTopic('state.devices.lamp')).toBe(true)
    expect(isKernelTopic('core.plugin.started')).toBe(true)
    expect(isKernelTopic('state')).toBe(true)
    expect(isKernelTopic('devices.lamp.changed')).toBe(false)
    expect(isKernelTopic('states.x')).toBe(false)
    expect(isKernelTopic('corex.y')).toBe(false)
  })

  it('should refuse a kernel topic with E_FORBIDDEN naming the topic', () => {
    expect(() => assertPublishableTopic('devices.x', 'plugin "a"')).not.toThrow()
    try {
      assertPublishableTopic('state.public.k', 'token "t1"')
      expect.unreachable()
    } catch (error) {
      expect(CoreError.is(error, 'E_FORBIDDEN')).toBe(true)
      expect((error as CoreError).message).toContain('token "t1" may not publish "state.public.k"')
      expect((error as CoreError).details).toEqual({ topic: 'state.public.k' })
    }
  })
})
