import { metricOf, type RateLimitedLogger } from '@core/contracts'
import type { EventBus } from '@core/event-bus'
import type { Registry } from 'prom-client'
import {
  type Policy,
  type PolicyDecision,
  policyDenied,
  SECURITY_DENIED_EVENT,
  type SecurityDeniedData,
} from './policy.js'

/**
 * One access of a caller from outside the kernel (an HTTP token, an MQTT client, a remote node),
 * weighed by {@link KernelSecurity.authorize}.
 * @public
 */
export interface AuthorizeRequest {
  /**
   * Who asks: `token:<id>`, `user:<broker user>`, `node:<uid>`. Several subjects (a MindBus
   * caller is both `node:<uid>` and `user:<AMQP user_id>`): allowed when a rule allows one of
   * them and no rule refuses any of them.
   */
  subject: string | readonly string[]
  /** `<area>.<action>`: `services.call`, `events.publish`, `events.subscribe`, `state.read`, `state.write`. */
  action: string
  /** A name (`lights.kitchen.on`) or, for a subscription, a pattern (`devices.#`). */
  resource: string
  /** The transport, for the log and the event: `http`, `mqtt`, `mindbus`. */
  via?: string
}

/**
 * `kernel.security`: the one operator policy applied to every caller, and the one place where
 * refusals are reported. Every refusal (a plugin's `ctx`, an HTTP token's scopes, an MQTT or
 * MindBus caller) is a `core.security.denied` event, a count in
 * `core_security_denials_total{kind,action}` and a log line rate-limited per subject (10 per
 * minute, then one summary line).
 * @public
 */
export interface KernelSecurity {
  /** The compiled operator policy (`createKernel({ policy })`), `undefined` without one. */
  readonly policy: Policy | undefined
  /**
   * Weighs `request` against the policy without reporting anything (to filter listings and
   * streams). Always true without a policy.
   */
  allows(request: AuthorizeRequest): boolean
  /**
   * Applies the policy on top of what the caller is already granted (token scopes, broker ACLs):
   * returns when the policy allows `request` (or there is none), else reports the refusal and
   * throws.
   * @throws {@link @core/contracts!CoreError} `E_FORBIDDEN` naming the subject, the action, the resource and
   *   the deciding rule (`details: { subject, action, resource, rule? }`).
   */
  authorize(request: AuthorizeRequest): void
  /**
   * Reports a refusal decided elsewhere (a token's scopes, a plugin's manifest): the event, the
   * counter and the rate-limited log line.
   */
  report(data: SecurityDeniedData & { via?: string }): void
  /** Refusals reported so far, by `<subject kind> <action>` (e.g. `token services.call`). */
  counts(): Record<string, number>
}

/** What {@link createSecurity} needs. @internal */
export interface SecurityDeps {
  policy: Policy | undefined
  bus: EventBus
  limited: RateLimitedLogger
}

/** Builds `kernel.security` (see {@link KernelSecurity}). @internal */
export function createSecurity(deps: SecurityDeps): KernelSecurity {
  const { policy, bus, limited } = deps
  const counts = new Map<string, number>()

  const report = (data: SecurityDeniedData & { via?: string }): void => {
    const kind = subjectKind(data.subject)
    const key = `${kind} ${data.action}`
    counts.set(key, (counts.get(key) ?? 0) + 1)
    const { via, ...event } = data
    limited.warn(
      `denied.${data.subject}`,
      {
        ...(kind === 'plugin' ? { plugin: data.subject.slice('plugin:'.length) } : {}),
        ...event,
        ...(via === undefined ? {} : { via }),
      },
      data.reason,
    )
    bus.publish(SECURITY_DENIED_EVENT, event, { wait: false }).catch(() => {})
  }

  const decideAll = (request: AuthorizeRequest): [string, PolicyDecision] | undefined => {
    if (policy === undefined) return undefined
    const subjects = typeof request.subject === 'string' ? [request.subject] : request.subject
    let allowed: [string, PolicyDecision] | undefined
    let fallback: [string, PolicyDecision] | undefined
    for (const subject of subjects) {
      const decision = policy.decide({
        subject,
        action: request.action,
        resource: request.resource,
      })
      if (decision.rule === undefined) {
        fallback ??= [subject, decision]
        continue
      }
      if (!decision.allowed) return [subject, decision]
      allowed ??= [subject, decision]
    }
    return (
      allowed ??
      fallback ?? [
        '(none)',
        { allowed: false, reason: 'no subject given: no policy rule grants it (default deny)' },
      ]
    )
  }

  return Object.freeze({
    policy,
    allows: (request: AuthorizeRequest) => decideAll(request)?.[1].allowed ?? true,
    authorize(request: AuthorizeRequest): void {
      const weighed = decideAll(request)
      if (weighed === undefined || weighed[1].allowed) return
      const [subject, decision] = weighed
      const error = policyDenied(
        { subject, action: request.action, resource: request.resource },
        decision,
      )
      report({
        subject,
        action: request.action,
        resource: request.resource,
        reason: error.message,
        ...(decision.rule === undefined ? {} : { rule: decision.rule.index }),
        ...(request.via === undefined ? {} : { via: request.via }),
      })
      throw error
    },
    report,
    counts: () => Object.fromEntries(counts),
  })
}

/**
 * Adds `core_security_denials_total{kind,action}` (refusals reported through
 * {@link KernelSecurity}, by subject kind and action) to `registry`.
 * @internal
 */
export function registerSecurityMetrics(registry: Registry, security: KernelSecurity): void {
  const source = metricOf(
    'core_security_denials_total',
    'Accesses refused with E_FORBIDDEN (plugin ctx, HTTP tokens, MQTT and MindBus callers), by subject kind and action',
    'counter',
    () =>
      Object.entries(security.counts()).map(([key, n]) => {
        const [kind = '', action = ''] = key.split(' ')
        return [{ kind, action }, n] as const
      }),
  )
  if (registry.getSingleMetric(source.name) === undefined) registry.registerMetric(source as never)
}

/** The kind of a subject (`token` of `token:ab12`), `other` for anything unexpected. */
function subjectKind(subject: string): string {
  const colon = subject.indexOf(':')
  const kind = colon === -1 ? subject : subject.slice(0, colon)
  return KINDS.has(kind) ? kind : 'other'
}

const KINDS = new Set(['plugin', 'token', 'node', 'user'])
