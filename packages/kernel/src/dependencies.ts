import { CoreError } from '@core/contracts'
import semver from 'semver'

/** What dependency resolution needs to know about one plugin. @internal */
export interface DependencyNode {
  name: string
  version: string
  requires: Record<string, string>
  optionalRequires: Record<string, string>
}

/** The outcome of {@link resolveDependencies}. @internal */
export interface Resolution {
  /** Every plugin in start order: dependencies (required and present optional ones) first. */
  order: string[]
  /** Plugins that cannot start, with their `E_PLUGIN_DEPENDENCY` error. */
  problems: Map<string, CoreError>
}

/**
 * Checks every plugin's dependencies and orders them for start.
 *
 * - A required dependency missing, or present with a version outside the wanted range →
 *   `E_PLUGIN_DEPENDENCY` naming the plugin, the dependency, the range and the version found.
 * - An optional dependency orders the start when present (and must then satisfy its range);
 *   when absent it blocks nothing.
 * - Plugins on a cycle each get an `E_PLUGIN_DEPENDENCY` printing the cycle (`a → b → c → a`).
 *
 * The order is topological (Kahn), ties broken by the input order, so it is deterministic.
 * Plugins with problems stay in the order (their dependents are skipped at start).
 *
 * @param nodes - The plugins, in discovery order.
 * @param available - Versions of plugins outside `nodes` that count as present (already running).
 * @see semver 2.0.0 (node-semver ranges, pre-releases included)
 * @internal
 */
export function resolveDependencies(
  nodes: readonly DependencyNode[],
  available: ReadonlyMap<string, string> = new Map(),
): Resolution {
  const byName = new Map(nodes.map((n) => [n.name, n]))
  const problems = new Map<string, CoreError>()
  const edges = new Map<string, string[]>() // name → its present dependencies in `nodes`
  for (const node of nodes) {
    const deps: string[] = []
    for (const [optional, map] of [
      [false, node.requires],
      [true, node.optionalRequires],
    ] as const) {
      for (const [dep, range] of Object.entries(map)) {
        const found = byName.get(dep)?.version ?? available.get(dep)
        if (found === undefined) {
          if (!optional && !problems.has(node.name)) {
            problems.set(node.name, dependencyError(node.name, dep, range, undefined, false))
          }
          continue
        }
        if (!semver.satisfies(found, range, { includePrerelease: true })) {
          if (!problems.has(node.name)) {
            problems.set(node.name, dependencyError(node.name, dep, range, found, optional))
          }
        }
        if (byName.has(dep)) deps.push(dep)
      }
    }
    edges.set(node.name, deps)
  }

  for (const cycle of findCycles(nodes, edges)) {
    const path = [...cycle, cycle[0]].join(' → ')
    for (const name of cycle) {
      problems.set(
        name,
        new CoreError(
          'E_PLUGIN_DEPENDENCY',
          `Plugin "${name}" is on a dependency cycle: ${path}; break it by removing one of these requires`,
          { details: { plugin: name, cycle: [...cycle, cycle[0]] } },
        ),
      )
    }
  }

  // Kahn's algorithm; plugins on cycles are appended at the end (they never start).
  const index = new Map(nodes.map((n, i) => [n.name, i]))
  const pending = new Map<string, number>()
  const dependents = new Map<string, string[]>()
  for (const node of nodes) {
    const deps = edges.get(node.name) ?? []
    pending.set(node.name, deps.length)
    for (const dep of deps) {
      const list = dependents.get(dep)
      if (list) list.push(node.name)
      else dependents.set(dep, [node.name])
    }
  }
  const ready = nodes.filter((n) => pending.get(n.name) === 0).map((n) => n.name)
  const order: string[] = []
  while (ready.length > 0) {
    ready.sort((a, b) => (index.get(a) as number) - (index.get(b) as number))
    const name = ready.shift() as string
    order.push(name)
    for (const d of dependents.get(name) ?? []) {
      const left = (pending.get(d) as number) - 1
      pending.set(d, left)
      if (left === 0) ready.push(d)
    }
  }
  if (order.length < nodes.length) {
    const placed = new Set(order)
    for (const node of nodes) if (!placed.has(node.name)) order.push(node.name)
  }
  return { order, problems }
}

/**
 * The `E_PLUGIN_DEPENDENCY` error for one unmet dependency.
 * @internal
 */
export function dependencyError(
  plugin: string,
  dependency: string,
  range: string,
  found: string | undefined,
  optional: boolean,
): CoreError {
  const kind = optional ? 'optional dependency' : 'dependency'
  const message =
    found === undefined
      ? `Plugin "${plugin}" requires plugin "${dependency}" ${range}, which is not installed; add "${dependency}" to the hub or remove it from "${plugin}"'s requires`
      : `Plugin "${plugin}" needs ${kind} "${dependency}" ${range}, but version ${found} is installed; install a matching "${dependency}" or widen the range`
  return new CoreError('E_PLUGIN_DEPENDENCY', message, {
    details: { plugin, dependency, wanted: range, found: found ?? null, optional },
  })
}

/** Every elementary cycle found by a depth-first search (each cycle reported once). */
function findCycles(
  nodes: readonly DependencyNode[],
  edges: ReadonlyMap<string, string[]>,
): string[][] {
  const WHITE = 0
  const GREY = 1
  const BLACK = 2
  const color = new Map<string, number>()
  const stack: string[] = []
  const cycles: string[][] = []
  const visit = (name: string): void => {
    color.set(name, GREY)
    stack.push(name)
    for (const dep of edges.get(name) ?? []) {
      const c = color.get(dep) ?? WHITE
      if (c === WHITE) visit(dep)
      else if (c === GREY) {
        // stack holds name → … ; the cycle is dep … name, followed by dep again. Print it in
        // "depends on" direction: a → b means a requires b.
        cycles.push(stack.slice(stack.indexOf(dep)))
      }
    }
    stack.pop()
    color.set(name, BLACK)
  }
  for (const node of nodes) if ((color.get(node.name) ?? WHITE) === WHITE) visit(node.name)
  return cycles
}
