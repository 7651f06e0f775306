import {
  CoreError,
  type PolicyDocument,
  PolicyDocumentSchema,
  type PolicyRule,
  validationError,
} from '@core/contracts'
import { Ajv2020 } from 'ajv/dist/2020.js'
import { patternContains } from './permissions.js'

/** One access weighed by a {@link Policy}. @public */
export interface PolicyRequest {
  /** `plugin:<name>`, `token:<id>`, `node:<uid>` or `user:<name>`. */
  subject: string
  /** `<area>.<action>`, e.g. `services.call`. */
  action: string
  /** A name (`lights.kitchen.on`) or, for subscriptions and watches, a pattern (`devices.#`). */
  resource: string
  /**
   * True when the access is inside the subject's own namespace (a plugin's own services, events,
   * state, storage): then only an explicit `deny` refuses it. @defaultValue false
   */
  own?: boolean
}

/** What a {@link Policy} decided, and by which rule. @public */
export interface PolicyDecision {
  allowed: boolean
  /** The deciding rule's index in the document and the rule, absent for a default decision. */
  rule?: { index: number } & PolicyRule
  /** Why, for people: "rule 3 (deny plugin:* services.call locks.#)" or "no rule grants it". */
  reason: string
}

/** A compiled operator policy. @public */
export interface Policy {
  /** Weighs one access; see `PolicyDocumentSchema` in `@core/contracts` for the rules. */
  decide(request: PolicyRequest): PolicyDecision
  /** The document it was compiled from (frozen). */
  readonly document: Readonly<PolicyDocument>
}

interface CompiledRule {
  readonly index: number
  readonly rule: PolicyRule
  readonly kind: string | undefined // subject kind, undefined for '*'
  readonly name: string | undefined // subject name, undefined for a wildcard
  readonly area: string | undefined
  readonly verb: string | undefined
  /** Higher is more specific: subject, then resource, then action. */
  readonly rank: readonly [number, number, number]
}

const ajv = new Ajv2020({ allErrors: true, strict: false })
const validateDocument = ajv.compile(PolicyDocumentSchema)

/**
 * Compiles an operator policy document.
 *
 * @param document - The parsed policy file (JSON or YAML), shaped as `PolicyDocumentSchema`.
 * @returns A {@link Policy} whose `decide` is pure and cached per request.
 * @throws {@link @core/contracts!CoreError} `E_VALIDATION` with each failing path when the document is malformed.
 * @see AMQP 0-9-1 topic matching (resource patterns)
 * @example
 * ```ts
 * const policy = compilePolicy({
 *   version: 1,
 *   rules: [
 *     { effect: 'allow', subject: 'plugin:*', action: '*', resource: '#' },
 *     { effect: 'deny', subject: 'plugin:automation', action: 'services.call', resource: 'locks.#' },
 *   ],
 * })
 * policy.decide({ subject: 'plugin:automation', action: 'services.call', resource: 'locks.front.open' })
 * // → { allowed: false, rule: { index: 1, … }, reason: 'rule 1 (deny plugin:automation services.call locks.#)' }
 * ```
 * @public
 */
export function compilePolicy(document: unknown): Policy {
  if (!validateDocument(document)) {
    throw validationError('policy document', validateDocument.errors, {
      hint: 'see PolicyDocumentSchema: { version: 1, rules: [{ effect, subject, action, resource }] }',
    })
  }
  const doc = document as PolicyDocument
  const rules: CompiledRule[] = doc.rules.map((rule, index) => {
    const [kind, name] =
      rule.subject === '*' ? [undefined, undefined] : rule.subject.split(/:(.*)/s)
    const [area, verb] = rule.action === '*' ? [undefined, undefined] : rule.action.split('.')
    const words = rule.resource.split('.')
    const literals = words.filter((w) => w !== '*' && w !== '#').length
    const hashes = words.filter((w) => w === '#').length
    return {
      index,
      rule,
      kind,
      name: name === '*' ? undefined : name,
      area,
      verb: verb === '*' ? undefined : verb,
      rank: [
        kind === undefined ? 0 : name === '*' ? 1 : 2,
        literals * 1_000 - hashes * 10 - (words.length - literals - hashes),
        area === undefined ? 0 : verb === '*' ? 1 : 2,
      ],
    }
  })
  const frozen = Object.freeze(structuredClone(doc)) as Readonly<PolicyDocument>
  const cache = new Map<string, PolicyDecision>()

  const decide = (request: PolicyRequest): PolicyDecision => {
    const key = `${request.subject}\u0000${request.action}\u0000${request.resource}\u0000${request.own === true}`
    const cached = cache.get(key)
    if (cached !== undefined) return cached
    const decision = weigh(rules, request)
    if (cache.size >= 10_000) cache.clear()
    cache.set(key, decision)
    return decision
  }
  return Object.freeze({ decide, document: frozen })
}

function weigh(rules: readonly CompiledRule[], request: PolicyRequest): PolicyDecision {
  const colon = request.subject.indexOf(':')
  const kind = colon === -1 ? request.subject : request.subject.slice(0, colon)
  const name = colon === -1 ? '' : request.subject.slice(colon + 1)
  const dot = request.action.indexOf('.')
  const area = dot === -1 ? request.action : request.action.slice(0, dot)
  const verb = dot === -1 ? '' : request.action.slice(dot + 1)
  const pattern = request.resource.includes('*') || request.resource.includes('#')
  let best: CompiledRule | undefined
  for (const r of rules) {
    if (r.kind !== undefined && (r.kind !== kind || (r.name !== undefined && r.name !== name)))
      continue
    if (r.area !== undefined && (r.area !== area || (r.verb !== undefined && r.verb !== verb)))
      continue
    // An allow must cover the whole request; a deny refuses as soon as it overlaps a pattern.
    const applies =
      r.rule.effect === 'allow' || !pattern
        ? patternContains(r.rule.resource, request.resource)
        : patternsOverlap(r.rule.resource, request.resource)
    if (!applies) continue
    if (best === undefined || outranks(r, best)) best = r
  }
  if (best === undefined) {
    return request.own === true
      ? { allowed: true, reason: 'own namespace, no rule denies it' }
      : { allowed: false, reason: 'no policy rule grants it (default deny)' }
  }
  const { rule, index } = best
  return {
    allowed: rule.effect === 'allow',
    rule: { index, ...rule },
    reason: `rule ${index} (${rule.effect} ${rule.subject} ${rule.action} ${rule.resource})`,
  }
}

/** True when `a` is more specific than `b`; between equals, a deny outranks an allow. */
function outranks(a: CompiledRule, b: CompiledRule): boolean {
  for (let i = 0; i < 3; i++) {
    const d = (a.rank[i] as number) - (b.rank[i] as number)
    if (d !== 0) return d > 0
  }
  return a.rule.effect === 'deny' && b.rule.effect === 'allow'
}

/**
 * True when some topic is matched by both AMQP 0-9-1 topic patterns `a` and `b` (`*` exactly one
 * word, `#` zero or more).
 * @see AMQP 0-9-1, topic exchange matching
 * @public
 */
export function patternsOverlap(a: string, b: string): boolean {
  const x = a.split('.')
  const y = b.split('.')
  const memo = new Map<number, boolean>()
  const width = y.length + 1
  const go = (i: number, j: number): boolean => {
    const key = i * width + j
    const known = memo.get(key)
    if (known !== undefined) return known
    let ok = false
    if (i === x.length && j === y.length) ok = true
    else if (i < x.length && x[i] === '#') ok = go(i + 1, j) || (j < y.length && go(i, j + 1))
    if (!ok && j < y.length && y[j] === '#') ok = go(i, j + 1) || (i < x.length && go(i + 1, j))
    if (!ok && i < x.length && j < y.length && x[i] !== '#' && y[j] !== '#') {
      ok = (x[i] === y[j] || x[i] === '*' || y[j] === '*') && go(i + 1, j + 1)
    }
    memo.set(key, ok)
    return ok
  }
  return go(0, 0)
}

/**
 * The error for an access a policy refused: `E_FORBIDDEN` naming who, what and the deciding rule.
 * @internal
 */
export function policyDenied(request: PolicyRequest, decision: PolicyDecision): CoreError {
  return new CoreError(
    'E_FORBIDDEN',
    `${request.subject} may not ${request.action} "${request.resource}": the operator policy refuses it (${decision.reason})`,
    {
      details: {
        subject: request.subject,
        action: request.action,
        resource: request.resource,
        ...(decision.rule === undefined ? {} : { rule: decision.rule.index }),
      },
    },
  )
}

/**
 * The event type the kernel publishes for each access it refuses to a plugin (manifest or
 * policy). Its `data`: {@link SecurityDeniedData}.
 * @public
 */
export const SECURITY_DENIED_EVENT = 'core.security.denied'

/** The `data` of a {@link SECURITY_DENIED_EVENT} event. @public */
export interface SecurityDeniedData {
  /** Who was refused: `plugin:<name>`, `token:<id>`, `node:<uid>` or `user:<name>`. */
  subject: string
  /** What: `<area>.<action>`, e.g. `services.call`. */
  action: string
  /** On what: the name or pattern asked for. */
  resource: string
  /** The refusal's message. */
  reason: string
  /** The index of the policy rule that refused it, when a policy rule did. */
  rule?: number
}

/**
 * Builds the {@link SecurityDeniedData} of a plugin's refusal from its `E_FORBIDDEN` error.
 * @internal
 */
export function securityDenied(plugin: string, error: CoreError): SecurityDeniedData {
  const d = (error.details ?? {}) as Record<string, unknown>
  const data: SecurityDeniedData = {
    subject: typeof d.subject === 'string' ? d.subject : `plugin:${plugin}`,
    action: typeof d.action === 'string' ? d.action : 'events.publish',
    resource:
      typeof d.resource === 'string' ? d.resource : typeof d.topic === 'string' ? d.topic : '',
    reason: error.message,
  }
  if (typeof d.rule === 'number') data.rule = d.rule
  return data
}
