import { silentLogger } from '@core/contracts'
import fc from 'fast-check'
import semver from 'semver'
import { describe, expect, it } from 'vitest'
import { closestNames, editDistance } from '../src/closest.js'
import { createServiceRegistry } from '../src/index.js'

const version = fc
  .tuple(
    fc.integer({ min: 0, max: 3 }),
    fc.integer({ min: 0, max: 3 }),
    fc.integer({ min: 0, max: 3 }),
    fc.option(fc.constantFrom('alpha', 'beta.1', 'rc.2'), { nil: undefined }),
  )
  .map(([major, minor, patch, pre]) => `${major}.${minor}.${patch}${pre ? `-${pre}` : ''}`)

const range = fc.oneof(
  version.map((v) => `^${v}`),
  version.map((v) => `~${v}`),
  version.map((v) => `>=${v}`),
  version.map((v) => `<${v}`),
  version,
  fc.tuple(version, version).map(([a, b]) => `>=${a} <${b}`),
  fc
    .tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 }))
    .map(([a, b]) => `${a}.${b}.x`),
  fc.constant('*'),
)

describe('version selection (node-semver)', () => {
  it('should call the highest registered version satisfying the range, or refuse when none does (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(version, {
          minLength: 1,
          maxLength: 8,
          selector: (v) => semver.parse(v)!.version,
        }),
        range,
        async (versions, wanted) => {
          const services = createServiceRegistry({ logger: silentLogger })
          for (const v of versions)
            services.register('pkg.svc', () => v, { params: {}, version: v })
          const expected = semver.maxSatisfying(versions, wanted)
          const got = await services.call('pkg.svc', {}, { version: wanted }).then(
            (v) => v,
            (e: { code: string }) => e.code,
          )
          expect(got).toBe(expected ?? 'E_SERVICE_NOT_FOUND')
          expect(services.has('pkg.svc', wanted)).toBe(expected !== null)
        },
      ),
      { numRuns: 200 },
    )
  })

  it('should call the highest version by semver precedence when no range is given (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(version, { minLength: 1, maxLength: 8 }),
        async (versions) => {
          const services = createServiceRegistry({ logger: silentLogger })
          for (const v of versions)
            services.register('pkg.svc', () => v, { params: {}, version: v })
          await expect(services.call('pkg.svc', {})).resolves.toBe(semver.rsort([...versions])[0])
          expect(services.list().map((d) => d.version)).toEqual(semver.rsort([...versions]))
        },
      ),
      { numRuns: 200 },
    )
  })
})

describe('closest names', () => {
  it('should compute the Levenshtein distance', () => {
    expect(editDistance('kitten', 'sitting')).toBe(3)
    expect(editDistance('', 'abc')).toBe(3)
    expect(editDistance('abc', 'abc')).toBe(0)
    expect(editDistance('lights.set', 'lights.get')).toBe(1)
  })

  it('should agree with a plain dynamic-programming reference (property)', () => {
    const reference = (a: string, b: string): number => {
      const d = Array.from({ length: a.length + 1 }, (_, i) => [
        i,
        ...Array<number>(b.length).fill(0),
      ])
      for (let j = 0; j <= b.length; j++) d[0]![j] = j
      for (let i = 1; i <= a.length; i++)
        for (let j = 1; j <= b.length; j++)
          d[i]![j] = Math.min(
            d[i - 1]![j]! + 1,
            d[i]![j - 1]! + 1,
            d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
          )
      return d[a.length]![b.length]!
    }
    fc.assert(
      fc.property(
        fc.string({ maxLength: 12 }),
        fc.string({ maxLength: 12 }),
        fc.nat(6),
        (a, b, budget) => {
          const exact = reference(a, b)
          expect(editDistance(a, b)).toBe(exact)
          const bounded = editDistance(a, b, budget)
          if (exact <= budget) expect(bounded).toBe(exact)
          else expect(bounded).toBeGreaterThan(budget)
        },
      ),
    )
  })

  it('should return at most three plausible names, nearest first', () => {
    const names = ['lights.set', 'lights.get', 'lights.sets', 'lights.net', 'climate.set']
    expect(closestNames('lights.xet', names)).toEqual(['lights.get', 'lights.net', 'lights.set'])
    expect(closestNames('weather.now', names)).toEqual([])
  })
})
