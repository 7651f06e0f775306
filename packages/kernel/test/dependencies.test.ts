import { CoreError } from '@core/contracts'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { type DependencyNode, resolveDependencies } from '../src/dependencies.js'

const node = (
  name: string,
  requires: Record<string, string> = {},
  optionalRequires: Record<string, string> = {},
  version = '1.0.0',
): DependencyNode => ({ name, version, requires, optionalRequires })

describe('resolveDependencies', () => {
  it('should order dependencies before their dependents, keeping input order among independent plugins', () => {
    const { order, problems } = resolveDependencies([
      node('ui', { api: '^1.0.0' }),
      node('zeta'),
      node('api', { db: '1.x' }),
      node('db'),
    ])
    expect(problems.size).toBe(0)
    expect(order).toEqual(['zeta', 'db', 'api', 'ui'])
  })

  it('should let a present optional dependency order the start', () => {
    const { order } = resolveDependencies([node('reports', {}, { metrics: '*' }), node('metrics')])
    expect(order).toEqual(['metrics', 'reports'])
  })

  it('should not block on an absent optional dependency', () => {
    const { order, problems } = resolveDependencies([node('reports', {}, { metrics: '*' })])
    expect(problems.size).toBe(0)
    expect(order).toEqual(['reports'])
  })

  it('should report a missing dependency naming the plugin, the dependency, the range and "not installed"', () => {
    const { problems } = resolveDependencies([node('ui', { api: '^2.0.0' })])
    const error = problems.get('ui') as CoreError
    expect(CoreError.is(error, 'E_PLUGIN_DEPENDENCY')).toBe(true)
    expect(error.message).toContain('"ui" requires plugin "api" ^2.0.0, which is not installed')
    expect(error.details).toMatchObject({
      plugin: 'ui',
      dependency: 'api',
      wanted: '^2.0.0',
      found: null,
    })
  })

  it('should report an incompatible version naming the wanted range and the version found', () => {
    const { problems } = resolveDependencies([
      node('ui', { api: '^2.0.0' }),
      node('api', {}, {}, '1.4.2'),
    ])
    const error = problems.get('ui') as CoreError
    expect(error.code).toBe('E_PLUGIN_DEPENDENCY')
    expect(error.message).toContain(
      '"ui" needs dependency "api" ^2.0.0, but version 1.4.2 is installed',
    )
    expect(error.details).toMatchObject({ wanted: '^2.0.0', found: '1.4.2' })
    expect(problems.has('api')).toBe(false)
  })

  it('should report a present optional dependency of the wrong version', () => {
    const { problems } = resolveDependencies([node('ui', {}, { api: '^2.0.0' }), node('api')])
    expect(problems.get('ui')?.message).toContain(
      'optional dependency "api" ^2.0.0, but version 1.0.0',
    )
  })

  it('should accept pre-release versions inside a range', () => {
    const { problems } = resolveDependencies([
      node('ui', { api: '^1.0.0' }),
      node('api', {}, {}, '1.3.0-beta.1'),
    ])
    expect(problems.size).toBe(0)
  })

  it('should count plugins already running as available', () => {
    const { problems } = resolveDependencies(
      [node('ui', { api: '^1.0.0' })],
      new Map([['api', '1.1.0']]),
    )
    expect(problems.size).toBe(0)
  })

  it('should print a cycle path and fail every plugin on it', () => {
    const { problems, order } = resolveDependencies([
      node('a', { b: '*' }),
      node('b', { c: '*' }),
      node('c', { a: '*' }),
      node('d', { a: '*' }),
      node('e'),
    ])
    expect(problems.get('a')?.message).toContain('a → b → c → a')
    expect(problems.get('b')?.message).toContain('a → b → c → a')
    expect(problems.get('c')?.code).toBe('E_PLUGIN_DEPENDENCY')
    expect(problems.get('a')?.details).toMatchObject({ cycle: ['a', 'b', 'c', 'a'] })
    expect(problems.has('e')).toBe(false)
    expect(order[0]).toBe('e')
    expect([...order].sort()).toEqual(['a', 'b', 'c', 'd', 'e'])
  })

  it('should find a cycle through optional dependencies too', () => {
    const { problems } = resolveDependencies([node('a', {}, { b: '*' }), node('b', { a: '*' })])
    expect(problems.get('a')?.message).toContain('a → b → a')
  })

  it('should always produce an order where each acyclic plugin comes after its dependencies', () => {
    const graph = fc
      .integer({ min: 1, max: 12 })
      .chain((n) =>
        fc.tuple(
          fc.constant(n),
          fc.array(fc.tuple(fc.nat(n - 1), fc.nat(n - 1)), { maxLength: 30 }),
        ),
      )
    fc.assert(
      fc.property(graph, ([n, pairs]) => {
        // Edges only from higher to lower index: a DAG.
        const nodes = Array.from({ length: n }, (_, i) => node(`p${i}`))
        for (const [x, y] of pairs) if (x > y) (nodes[x] as DependencyNode).requires[`p${y}`] = '*'
        const { order, problems } = resolveDependencies([...nodes].reverse())
        expect(problems.size).toBe(0)
        const at = new Map(order.map((name, i) => [name, i]))
        for (const p of nodes)
          for (const dep of Object.keys(p.requires)) {
            expect(at.get(dep)).toBeLessThan(at.get(p.name) as number)
          }
      }),
    )
  })
})
