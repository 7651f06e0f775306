import { CoreError, type PluginPermissions } from '@core/contracts'
import { type Policy, policyDenied } from './policy.js'

/**
 * One kind of access checked against a manifest's `permissions`:
 * `<area>.<action>` as in the manifest (`services.call`, `events.subscribe`, `state.write`…).
 * @public
 */
export type PermissionKind =
  | 'services.call'
  | 'services.register'
  | 'events.publish'
  | 'events.subscribe'
  | 'state.read'
  | 'state.write'
  | 'storage.read'
  | 'storage.write'

/**
 * True when every topic matched by `inner` is also matched by `outer`, both AMQP 0-9-1 topic
 * patterns (`*` exactly one word, `#` zero or more words). A pattern without wildcards is a
 * topic, so `patternContains(pattern, topic)` is "pattern matches topic". Only non-empty
 * topics count (a topic has at least one word).
 *
 * Exact: it explores the product of `inner`'s pattern with the subset automaton of `outer`,
 * letting each wildcard of `inner` stand for a word that appears in neither pattern (the
 * hardest case for `outer`: a literal word of `outer` can never match it).
 *
 * @param outer - The wider pattern, e.g. a manifest permission `devices.#`.
 * @param inner - The pattern or topic to cover, e.g. `devices.*.kitchen`.
 * @see AMQP 0-9-1, topic exchange matching (RabbitMQ's semantics)
 * @example
 * ```ts
 * patternContains('devices.#', 'devices.*.kitchen') // true
 * patternContains('devices.*', 'devices.#')         // false: devices.a.b is not covered
 * ```
 * @public
 */
export function patternContains(outer: string, inner: string): boolean {
  if (outer === inner || outer === '#') return true
  const o = outer.split('.')
  const n = inner.split('.')
  const m = o.length
  const FRESH = '\u0000'
  const close = (set: Set<number>): Set<number> => {
    for (let j = 0; j < m; j++) if (set.has(j) && o[j] === '#') set.add(j + 1)
    return set
  }
  const step = (set: Set<number>, word: string): Set<number> => {
    const next = new Set<number>()
    for (const j of set) {
      if (j >= m) continue
      const w = o[j]
      if (w === '#') next.add(j)
      else if (w === '*' || w === word) next.add(j + 1)
    }
    return close(next)
  }
  const key = (i: number, consumed: boolean, set: Set<number>): string =>
    `${i}${consumed ? '+' : '-'}${[...set].sort((a, b) => a - b).join(',')}`
  const start = close(new Set([0]))
  const seen = new Set<string>([key(0, false, start)])
  const todo: Array<[number, boolean, Set<number>]> = [[0, false, start]]
  const push = (i: number, consumed: boolean, set: Set<number>): void => {
    const k = key(i, consumed, set)
    if (!seen.has(k)) {
      seen.add(k)
      todo.push([i, consumed, set])
    }
  }
  while (todo.length > 0) {
    const [i, consumed, set] = todo.pop()!
    // From any state `inner` can still reach a non-empty match, so a dead `outer` is a counterexample.
    if (set.size === 0) return false
    if (i === n.length) {
      if (consumed && !set.has(m)) return false
      continue
    }
    const w = n[i] as string
    if (w === '#') {
      push(i + 1, consumed, set)
      push(i, true, step(set, FRESH))
    } else push(i + 1, true, step(set, w === '*' ? FRESH : w))
  }
  return true
}

/**
 * Checks one plugin's accesses against its manifest permissions, then against the operator
 * policy when there is one (which can only narrow: see `compilePolicy`). The plugin's own
 * namespace is allowed by the manifest: names whose first word is the plugin name (and, for
 * subscriptions, its own state events `state.<name>.…`); a policy refuses those only by an
 * explicit `deny`. A refusal is counted, logged by the caller and thrown as `E_FORBIDDEN`.
 * @internal
 */
export class PermissionChecker {
  readonly plugin: string
  denials = 0
  private readonly rules: Record<PermissionKind, readonly string[]>
  private readonly cache = new Map<string, boolean>()

  private readonly policy: Policy | undefined

  constructor(
    plugin: string,
    permissions: PluginPermissions | undefined,
    policy?: Policy | undefined,
  ) {
    this.plugin = plugin
    this.policy = policy
    const p = permissions ?? {}
    this.rules = {
      'services.call': p.services?.call ?? [],
      'services.register': p.services?.register ?? [],
      'events.publish': p.events?.publish ?? [],
      'events.subscribe': p.events?.subscribe ?? [],
      'state.read': p.state?.read ?? [],
      'state.write': p.state?.write ?? [],
      'storage.read': p.storage?.read ?? [],
      'storage.write': p.storage?.write ?? [],
    }
  }

  /** True when an operator policy narrows this plugin's accesses (own namespace included). */
  get narrowed(): boolean {
    return this.policy !== undefined
  }

  /** True when `resource` (a name or, for subscriptions and watches, a pattern) is allowed. */
  allows(kind: PermissionKind, resource: string): boolean {
    const cacheKey = `${kind} ${resource}`
    let ok = this.cache.get(cacheKey)
    if (ok === undefined) {
      ok = this.granted(kind, resource) && this.policyAllows(kind, resource)
      if (this.cache.size > 10_000) this.cache.clear()
      this.cache.set(cacheKey, ok)
    }
    return ok
  }

  /** What the manifest grants (own namespace included), before the policy. */
  private granted(kind: PermissionKind, resource: string): boolean {
    return (
      this.isOwn(kind, resource) || this.rules[kind].some((rule) => patternContains(rule, resource))
    )
  }

  private policyAllows(kind: PermissionKind, resource: string): boolean {
    if (this.policy === undefined) return true
    return this.policy.decide({
      subject: `plugin:${this.plugin}`,
      action: kind,
      resource,
      own: this.isOwn(kind, resource),
    }).allowed
  }

  /** True when some rule of `kind` may match a name in `namespace` (for filtered listings). */
  touches(kind: PermissionKind, namespace: string): boolean {
    if (namespace === this.plugin) return true
    return this.rules[kind].some((rule) => {
      const first = rule.split('.', 1)[0]
      return first === namespace || first === '*' || first === '#'
    })
  }

  /**
   * Throws `E_FORBIDDEN` (and counts it) unless `resource` is allowed.
   * @throws {@link @core/contracts!CoreError} `E_FORBIDDEN` naming the plugin, the action and the resource.
   */
  check(kind: PermissionKind, resource: string): void {
    if (this.allows(kind, resource)) return
    throw this.deny(kind, resource)
  }

  /** Counts a refusal and builds its error. */
  deny(kind: PermissionKind, resource: string): CoreError {
    this.denials++
    if (this.policy !== undefined && this.granted(kind, resource)) {
      const request = {
        subject: `plugin:${this.plugin}`,
        action: kind,
        resource,
        own: this.isOwn(kind, resource),
      }
      return policyDenied(request, this.policy.decide(request))
    }
    const [area, action] = kind.split('.') as [string, string]
    return new CoreError(
      'E_FORBIDDEN',
      `Plugin "${this.plugin}" may not ${action} ${AREA_NOUN[area]} "${resource}": it is outside its namespace "${this.plugin}"; add a pattern covering it to corePlugin.permissions.${kind} in its package.json`,
      { details: { plugin: this.plugin, action: kind, resource, allowed: [...this.rules[kind]] } },
    )
  }

  private isOwn(kind: PermissionKind, resource: string): boolean {
    const dot = resource.indexOf('.')
    const first = dot === -1 ? resource : resource.slice(0, dot)
    if (kind === 'events.subscribe') {
      if (first === this.plugin) return true
      if (first === 'state') return patternContains(`state.${this.plugin}.#`, resource)
      return false
    }
    return first === this.plugin
  }
}

const AREA_NOUN: Record<string, string> = {
  services: 'service',
  events: 'event type',
  state: 'state key',
  storage: 'storage document',
}
