import { CoreError } from '@core/contracts'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { patternContains } from '../src/permissions.js'
import { compilePolicy, patternsOverlap } from '../src/policy.js'

const policy = compilePolicy({
  version: 1,
  rules: [
    { effect: 'allow', subject: 'plugin:*', action: '*', resource: '#' },
    { effect: 'deny', subject: 'plugin:*', action: 'services.call', resource: 'locks.#' },
    {
      effect: 'allow',
      subject: 'plugin:doorbell',
      action: 'services.call',
      resource: 'locks.front.open',
    },
    {
      effect: 'deny',
      subject: 'plugin:doorbell',
      action: 'services.*',
      resource: 'locks.front.open',
    },
    { effect: 'allow', subject: 'token:*', action: 'events.*', resource: 'devices.#' },
    {
      effect: 'deny',
      subject: 'token:ops',
      action: 'events.subscribe',
      resource: 'devices.locks.#',
    },
    {
      effect: 'deny',
      subject: 'plugin:automation',
      action: 'storage.*',
      resource: 'automation.secrets.#',
    },
  ],
})

describe('compilePolicy / decide', () => {
  it('the most specific rule wins: a named plugin over plugin:*, a longer resource over a shorter one', () => {
    expect(
      policy.decide({
        subject: 'plugin:lights',
        action: 'services.call',
        resource: 'locks.front.open',
      }),
    ).toMatchObject({ allowed: false, rule: { index: 1 } })
    expect(
      policy.decide({ subject: 'plugin:lights', action: 'services.call', resource: 'lights.on' }),
    ).toMatchObject({ allowed: true, rule: { index: 0 } })
  })

  it('between equally specific subject and resource, the exact action outranks area.*', () => {
    expect(
      policy.decide({
        subject: 'plugin:doorbell',
        action: 'services.call',
        resource: 'locks.front.open',
      }),
    ).toMatchObject({ allowed: true, rule: { index: 2 } })
    expect(
      policy.decide({
        subject: 'plugin:doorbell',
        action: 'services.register',
        resource: 'locks.front.open',
      }),
    ).toMatchObject({ allowed: false, rule: { index: 3 } })
  })

  it('between equally specific rules, deny beats allow', () => {
    const p = compilePolicy({
      version: 1,
      rules: [
        { effect: 'allow', subject: 'node:hub-b', action: 'services.call', resource: 'lights.#' },
        { effect: 'deny', subject: 'node:hub-b', action: 'services.call', resource: 'lights.#' },
        { effect: 'allow', subject: 'node:hub-b', action: 'services.call', resource: 'lights.#' },
      ],
    })
    expect(
      p.decide({ subject: 'node:hub-b', action: 'services.call', resource: 'lights.on' }),
    ).toMatchObject({
      allowed: false,
      rule: { index: 1 },
    })
  })

  it('denies what no rule grants, except a plugin in its own namespace', () => {
    expect(
      policy.decide({ subject: 'user:mqtt-bridge', action: 'events.publish', resource: 'x.y' }),
    ).toEqual({
      allowed: false,
      reason: 'no policy rule grants it (default deny)',
    })
    const own = { subject: 'plugin:automation', action: 'storage.write', own: true }
    expect(policy.decide({ ...own, resource: 'automation.rules.r1' }).allowed).toBe(true)
    expect(policy.decide({ ...own, resource: 'automation.secrets.k' })).toMatchObject({
      allowed: false,
      rule: { index: 6 },
    })
    const bare = compilePolicy({ version: 1, rules: [] })
    expect(bare.decide({ ...own, resource: 'automation.x' }).allowed).toBe(true)
    expect(bare.decide({ ...own, own: false, resource: 'lights.x' }).allowed).toBe(false)
  })

  it('a subscription pattern needs an allow covering all of it, and any overlapping deny refuses it', () => {
    const ask = (resource: string) =>
      policy.decide({ subject: 'token:ops', action: 'events.subscribe', resource }).allowed
    expect(ask('devices.lights.#')).toBe(true)
    expect(ask('devices.#')).toBe(false) // overlaps devices.locks.#
    expect(ask('devices.*.front')).toBe(false) // devices.locks.front
    expect(ask('#')).toBe(false) // the allow does not cover it
    expect(
      policy.decide({ subject: 'token:other', action: 'events.subscribe', resource: 'devices.#' })
        .allowed,
    ).toBe(true)
  })

  it('refuses a malformed document with E_VALIDATION naming the paths', () => {
    const bad = [
      { version: 2, rules: [] },
      { version: 1, rules: [{ effect: 'permit', subject: '*', action: '*', resource: '#' }] },
      { version: 1, rules: [{ effect: 'allow', subject: 'root', action: '*', resource: '#' }] },
      {
        version: 1,
        rules: [{ effect: 'allow', subject: '*', action: 'files.read', resource: '#' }],
      },
      { version: 1, rules: [{ effect: 'allow', subject: '*', action: '*', resource: 'a..b' }] },
      {
        version: 1,
        rules: [{ effect: 'allow', subject: '*', action: '*', resource: '#', extra: 1 }],
      },
    ]
    for (const doc of bad) {
      let error: unknown
      try {
        compilePolicy(doc)
      } catch (e) {
        error = e
      }
      expect(error).toBeInstanceOf(CoreError)
      expect((error as CoreError).code).toBe('E_VALIDATION')
    }
  })

  it('keeps a frozen copy of the document', () => {
    const doc = {
      version: 1 as const,
      rules: [{ effect: 'allow' as const, subject: '*', action: '*', resource: '#' }],
    }
    const p = compilePolicy(doc)
    doc.rules.length = 0
    expect(p.document.rules).toHaveLength(1)
    expect(Object.isFrozen(p.document)).toBe(true)
  })
})

describe('patternsOverlap', () => {
  it.each([
    ['a.*.c', 'a.b.*', true],
    ['a.#', '#.z', true],
    ['a.b', 'a.c', false],
    ['a.*', 'a.b.c', false],
    ['a.#.c', 'a.b.b.c', true],
    ['#', 'x', true],
    ['a.*.*', 'a.#', true],
    ['*.b', 'a.#.c', false],
  ])('%s and %s → %s', (a, b, expected) => {
    expect(patternsOverlap(a, b)).toBe(expected)
    expect(patternsOverlap(b, a)).toBe(expected)
  })

  const word = fc.constantFrom('a', 'b', '*', '#')
  const pattern = fc.array(word, { minLength: 1, maxLength: 5 }).map((w) => w.join('.'))
  const topic = fc
    .array(fc.constantFrom('a', 'b', 'c'), { minLength: 1, maxLength: 6 })
    .map((w) => w.join('.'))

  it('is exact: true if and only if some topic is matched by both (all topics of up to 6 words)', () => {
    // `c` appears in no pattern: it plays the part of "any other word".
    const universe: string[] = []
    let level = ['']
    for (let len = 1; len <= 6; len++) {
      level = level.flatMap((t) => ['a', 'b', 'c'].map((w) => (t === '' ? w : `${t}.${w}`)))
      universe.push(...level)
    }
    const short = fc.array(word, { minLength: 1, maxLength: 3 }).map((w) => w.join('.'))
    fc.assert(
      fc.property(short, short, (a, b) => {
        const witness = universe.some((t) => patternContains(a, t) && patternContains(b, t))
        expect(patternsOverlap(a, b)).toBe(witness)
      }),
      { numRuns: 300 },
    )
  })

  it('agrees with matching: a topic matched by both patterns means they overlap', () => {
    fc.assert(
      fc.property(pattern, pattern, topic, (a, b, t) => {
        if (patternContains(a, t) && patternContains(b, t)) expect(patternsOverlap(a, b)).toBe(true)
      }),
      { numRuns: 2_000 },
    )
  })

  it('agrees with containment: if a contains b, they overlap', () => {
    fc.assert(
      fc.property(pattern, pattern, (a, b) => {
        if (patternContains(a, b)) expect(patternsOverlap(a, b)).toBe(true)
      }),
      { numRuns: 2_000 },
    )
  })
})

describe('a kernel with an operator policy', () => {
  it('narrows what a manifest grants, refuses with the rule, and publishes core.security.denied', async () => {
    const { testKernel } = await import('./helpers.js')
    const { silentLogger } = await import('@core/contracts')
    let ctx: import('../src/index.js').PluginContext | undefined
    const kernel = testKernel({
      logger: silentLogger,
      policy: {
        version: 1,
        rules: [
          { effect: 'allow', subject: 'plugin:*', action: '*', resource: '#' },
          { effect: 'deny', subject: 'plugin:me', action: 'services.call', resource: 'locks.#' },
          {
            effect: 'deny',
            subject: 'plugin:me',
            action: 'storage.write',
            resource: 'me.secrets.#',
          },
        ],
      },
      plugins: [
        {
          manifest: { name: 'locks', coreApi: '^1.0.0' },
          plugin: {
            setup(c) {
              c.services.register('locks.open', () => 'opened', { params: {} })
              c.services.register('locks.status', () => 'closed', { params: {} })
            },
          },
        },
        {
          manifest: {
            name: 'me',
            coreApi: '^1.0.0',
            permissions: { services: { call: ['locks.*'] } },
          },
          plugin: {
            setup: (c) => {
              ctx = c
            },
          },
        },
      ],
    })
    await kernel.start()
    const denied: unknown[] = []
    kernel.bus.subscribe('core.security.denied', (e) => void denied.push(e.data))
    const me = ctx as import('../src/index.js').PluginContext

    const refused = await me.services.call('locks.open', {}).then(
      () => undefined,
      (e: unknown) => e as CoreError,
    )
    expect(refused?.code).toBe('E_FORBIDDEN')
    expect(refused?.message).toMatch(/operator policy refuses it \(rule 1 /)
    // Own namespace: allowed unless a rule denies it.
    await me.storage.set('notes.a', { x: 1 })
    expect(await me.storage.get('notes.a')).toEqual({ x: 1 })
    await expect(me.storage.set('secrets.k', { x: 1 })).rejects.toMatchObject({
      code: 'E_FORBIDDEN',
      details: { rule: 2 },
    })
    await expect.poll(() => denied.length).toBe(2)
    expect(denied[0]).toMatchObject({
      subject: 'plugin:me',
      action: 'services.call',
      resource: 'locks.open',
      rule: 1,
    })
    expect(kernel.stats().denials.me).toBe(2)
    await kernel.stop()
  })

  it('refuses a malformed policy at createKernel with E_VALIDATION', async () => {
    const { createKernel } = await import('../src/index.js')
    expect(() =>
      createKernel({ policy: { version: 1, rules: [{ effect: 'maybe' }] } as never }),
    ).toThrow(CoreError)
  })
})
