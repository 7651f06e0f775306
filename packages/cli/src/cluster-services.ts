import { parseLabelSelector } from '@core/node-registry'
import type { HubClient } from './client.js'

/** Cluster views of `core call` and `core services list` (the hub's node registry). */

/**
 * The `?node=` / `?selector=` query of `core call --node UID --selector SELECTOR`: which hub
 * of the cluster serves the call. The selector is checked with the node registry's parser first.
 * @throws {@link @core/contracts!CoreError} `E_VALIDATION` for a malformed selector (with the position).
 * @internal
 */
export function callRouteQuery(opts: {
  node?: string
  selector?: string
}): Record<string, string | undefined> {
  if (opts.selector !== undefined) parseLabelSelector(opts.selector)
  return { node: opts.node, selector: opts.selector }
}

/** A service row of `core services list`: local, or listed in another hub's passport. */
export interface ServiceRow {
  name: string
  version: string
  /** `local`, or the serving node's `name (uid)`. */
  node: string
  timeoutMs?: unknown
  description?: unknown
}

/**
 * The services other hubs serve, from the node registry's passports (`GET
 * /api/v1/nodes?onlyHealthy=true`), with their node. This hub's own passport is recognised by
 * its endpoint (the `--url` the command uses) and left out, its services being listed as
 * `local`. An older hub without the node routes answers 404: then there are none.
 * @internal
 */
export async function remoteServiceRows(client: HubClient): Promise<ServiceRow[]> {
  const { body } = await client.request('/api/v1/nodes', {
    query: { onlyHealthy: 'true' },
    accept: [404],
  })
  if (!Array.isArray(body)) return []
  const self = sameOrigin(client.url)
  const rows: ServiceRow[] = []
  for (const entry of body as NodeRow[]) {
    const passport = entry.passport
    if (passport?.spec?.endpoint !== undefined && self(passport.spec.endpoint)) continue
    const node = `${passport?.metadata?.name ?? '?'} (${entry.nodeId ?? '?'})`
    for (const s of passport?.spec?.capabilities?.services ?? [])
      rows.push({ name: s.name, version: s.version, node })
  }
  return rows.sort((a, b) => a.name.localeCompare(b.name) || a.node.localeCompare(b.node))
}

interface NodeRow {
  nodeId?: string
  passport?: {
    metadata?: { name?: string }
    spec?: {
      endpoint?: string
      capabilities?: { services?: Array<{ name: string; version: string }> }
    }
  }
}

/** True for URLs of the same hub: same port, and both loopback or the same host. */
function sameOrigin(base: string): (url: string) => boolean {
  const loopback = (host: string): boolean =>
    host === 'localhost' || host === '[::1]' || host.startsWith('127.')
  let a: URL
  try {
    a = new URL(base)
  } catch {
    return () => false
  }
  return (url) => {
    try {
      const b = new URL(url)
      if (b.port !== a.port) return false
      return b.hostname === a.hostname || (loopback(a.hostname) && loopback(b.hostname))
    } catch {
      return false
    }
  }
}
