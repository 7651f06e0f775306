import { CoreError } from '@core/contracts'
import semver from 'semver'
import type { CallRoute, NodeDirectory, NodeEntryLike } from './types.js'

/**
 * Picks the node that serves a remote call: the healthy nodes (other than this one) whose
 * passport lists `name` with a version satisfying `range`, narrowed by the route's `node` or
 * `selector`; among them the one with the fewest calls in flight from this node, ties broken
 * round robin. Keeps the in-flight counts.
 */
export class CandidatePicker {
  private readonly inFlight = new Map<string, number>()
  private turn = 0

  constructor(
    private readonly directory: NodeDirectory,
    private readonly selfId: string,
  ) {}

  /**
   * The chosen node's id: at once when the directory answers at once (an array), else once its
   * promise settles (no promise is made for a directory that answers synchronously).
   * @throws {@link @core/contracts!CoreError} `E_SERVICE_NOT_FOUND` when no node qualifies (at
   *   once; as a rejection when the directory answers with a promise).
   */
  pick(
    name: string,
    range: string | undefined,
    route: CallRoute | undefined,
  ): string | Promise<string> {
    const query: { onlyHealthy: boolean; selector?: CallRoute['selector'] } = { onlyHealthy: true }
    if (route?.selector !== undefined) query.selector = route.selector
    const entries = this.directory.findNodes(query)
    if (Array.isArray(entries)) return this.choose(entries, name, range, route)
    return Promise.resolve(entries).then((found) => this.choose(found, name, range, route))
  }

  /** Counts a call sent to `nodeId` (in flight until {@link CandidatePicker.untrack}). */
  track(nodeId: string): void {
    this.inFlight.set(nodeId, (this.inFlight.get(nodeId) ?? 0) + 1)
  }

  /** Uncounts one call sent to `nodeId` (call once per {@link CandidatePicker.track}). */
  untrack(nodeId: string): void {
    const n = (this.inFlight.get(nodeId) ?? 1) - 1
    if (n <= 0) this.inFlight.delete(nodeId)
    else this.inFlight.set(nodeId, n)
  }

  private choose(
    entries: readonly NodeEntryLike[],
    name: string,
    range: string | undefined,
    route: CallRoute | undefined,
  ): string {
    const wanted = range ?? '*'
    // One pass: the candidates with the fewest calls in flight, in order; the turn picks one.
    const tied: string[] = []
    let least = Number.POSITIVE_INFINITY
    for (const entry of entries) {
      if (entry.nodeId === this.selfId) continue
      if (
        route?.node !== undefined &&
        route.node !== entry.passport.metadata.uid &&
        route.node !== entry.nodeId
      )
        continue
      if (!serves(entry, name, wanted)) continue
      const n = this.inFlight.get(entry.nodeId) ?? 0
      if (n < least) {
        least = n
        tied.length = 0
      }
      if (n === least) tied.push(entry.nodeId)
    }
    if (tied.length === 0) throw notFound(name, wanted, route, entries.length)
    this.turn = (this.turn + 1) >>> 0
    return tied[this.turn % tied.length] as string
  }
}

function serves(entry: NodeEntryLike, name: string, range: string): boolean {
  const services = entry.passport.spec.capabilities?.services
  if (services === undefined) return false
  for (const s of services) {
    if (s.name !== name) continue
    if (range === '*' || semver.satisfies(s.version, range, { includePrerelease: true }))
      return true
  }
  return false
}

function notFound(
  name: string,
  range: string,
  route: CallRoute | undefined,
  healthy: number,
): CoreError {
  const narrowed =
    route?.node !== undefined
      ? ` on node "${route.node}"`
      : route?.selector !== undefined
        ? ` on nodes matching selector ${JSON.stringify(route.selector)}`
        : ''
  return new CoreError(
    'E_SERVICE_NOT_FOUND',
    `No service "${name}" (version ${range}) locally nor on any healthy node${narrowed} (${healthy} healthy node(s) looked at); register it on a node, or check the node's passport lists it`,
    { details: { service: name, version: range, ...(route === undefined ? {} : { route }) } },
  )
}
