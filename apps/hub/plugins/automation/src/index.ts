import { assertServiceName, type CloudEvent, CoreError } from '@core/contracts'
import type { PluginContext, PluginHooks } from '@core/kernel'
import { allHold, resolveParams } from './conditions.js'
import { IdParams, type Rule, RuleSchema, type RuleView } from './schemas.js'

export { allHold, holds, resolveParams, valueAt } from './conditions.js'
export type { Condition, Rule, RuleView } from './schemas.js'

/** The plugin's config (manifest `corePlugin.config`). */
export interface AutomationConfig {
  /** Most rules kept. @defaultValue 1000 */
  maxRules: number
  /** Deadline of the service call a rule makes, ms. @defaultValue 10000 */
  callTimeoutMs: number
}

interface LiveRule {
  rule: Rule
  off: (() => void) | undefined
  stats: RuleView['stats']
}

/**
 * The automation plugin, written as a setup function (`(ctx) => hooks`): rules "when an event
 * matching `when.event` arrives and every condition in `when.conditions` holds, call
 * `action.call` with `action.params`". Rules live in the plugin's storage (one document per rule),
 * so they survive restarts, and are armed again on setup.
 *
 * Each firing publishes `automation.<id>.fired` (`{ rule, trigger, call, params, result }`) or
 * `automation.<id>.failed` (`{ …, error }`). Events published by this plugin never trigger
 * rules, so a rule cannot trigger itself through its own events. A rule's call runs beside
 * the event delivery (not awaited by the bus), so a called service may publish events that
 * match the same rule without deadlocking.
 */
export default function automation(
  ctx: PluginContext<AutomationConfig>,
): PluginHooks<AutomationConfig> {
  const rules = new Map<string, LiveRule>()
  const inflight = new Set<Promise<void>>()
  const source = `/plugins/${ctx.name}`

  const emit = (type: string, data: unknown): void => {
    ctx.events.publish(type, data, { wait: false }).catch((error: unknown) => {
      ctx.logger.warn({ err: error }, `could not publish ${type}`)
    })
  }

  const fire = async (live: LiveRule, event: CloudEvent): Promise<void> => {
    const { rule } = live
    const params = resolveParams(rule.action.params ?? {}, event)
    const base = {
      rule: rule.id,
      trigger: { id: event.id, type: event.type },
      call: rule.action.call,
      params,
    }
    try {
      const result = await ctx.services.call(rule.action.call, params, {
        timeoutMs: ctx.config.callTimeoutMs,
        signal: ctx.signal,
        meta: { rule: rule.id, trigger: event.id },
      })
      live.stats.fired++
      live.stats.lastFiredAt = event.time ?? new Date().toISOString()
      emit(`${ctx.name}.${rule.id}.fired`, { ...base, result: result ?? null })
    } catch (error) {
      live.stats.failed++
      const serialised = CoreError.is(error) ? error.toJSON() : { message: String(error) }
      ctx.logger.warn(
        { rule: rule.id, err: error },
        `rule "${rule.id}" failed calling ${rule.action.call}`,
      )
      emit(`${ctx.name}.${rule.id}.failed`, { ...base, error: serialised })
    }
  }

  const arm = (live: LiveRule): void => {
    if (live.rule.enabled === false) return
    live.off = ctx.events.subscribe(
      live.rule.when.event,
      (event) => {
        if (event.source === source) return
        if (!allHold(live.rule.when.conditions, event)) {
          live.stats.skipped++
          return
        }
        const run = fire(live, event).finally(() => inflight.delete(run))
        inflight.add(run)
      },
      { name: `${ctx.name}:${live.rule.id}` },
    )
  }

  const view = (live: LiveRule): RuleView => ({
    ...structuredClone(live.rule),
    stats: { ...live.stats },
  })
  const find = (id: string): LiveRule => {
    const live = rules.get(id)
    if (live === undefined) {
      throw new CoreError(
        'E_NOT_FOUND',
        `No rule "${id}"; rules: ${[...rules.keys()].sort().join(', ') || 'none'}`,
        {
          details: { id },
        },
      )
    }
    return live
  }
  const fresh = (rule: Rule): LiveRule => ({
    rule,
    off: undefined,
    stats: { fired: 0, failed: 0, skipped: 0 },
  })

  return {
    async setup() {
      for await (const item of ctx.storage.iterate({ pageSize: 1000 })) {
        const value = item.value as unknown as Rule
        const live = fresh(value)
        rules.set(value.id, live)
        try {
          arm(live)
        } catch (error) {
          ctx.logger.error(
            { rule: value.id, err: error },
            `stored rule "${value.id}" cannot run: ${(error as Error).message}`,
          )
        }
      }
      if (rules.size > 0) ctx.logger.info(`${rules.size} rule(s) restored`)

      ctx.services.register(
        `${ctx.name}.add`,
        async (rule: Rule) => {
          if (rules.has(rule.id)) {
            throw new CoreError(
              'E_CONFLICT',
              `Rule "${rule.id}" exists already; remove it first or pick another id`,
              {
                details: { id: rule.id },
              },
            )
          }
          if (rules.size >= ctx.config.maxRules) {
            throw new CoreError(
              'E_OVERFLOW',
              `At most ${ctx.config.maxRules} rules (config maxRules); remove one first`,
              {
                details: { maxRules: ctx.config.maxRules },
              },
            )
          }
          assertServiceName(rule.action.call, 'service name in action.call')
          const live = fresh(structuredClone(rule))
          arm(live) // throws E_VALIDATION (bad pattern) or E_FORBIDDEN before anything is stored
          try {
            await ctx.storage.set(rule.id, live.rule)
          } catch (error) {
            live.off?.()
            throw error
          }
          rules.set(rule.id, live)
          return view(live)
        },
        {
          description: 'Adds a rule: when an event matches and its conditions hold, call a service',
          params: RuleSchema,
        },
      )
      ctx.services.register(
        `${ctx.name}.list`,
        () => [...rules.values()].sort((a, b) => (a.rule.id < b.rule.id ? -1 : 1)).map(view),
        {
          description: 'Every rule, with what it did since the hub started',
          params: {},
          idempotent: true,
        },
      )
      ctx.services.register(`${ctx.name}.get`, ({ id }: IdParams) => view(find(id)), {
        description: 'One rule',
        params: IdParams,
        idempotent: true,
      })
      ctx.services.register(
        `${ctx.name}.remove`,
        async ({ id }: IdParams) => {
          const live = find(id)
          await ctx.storage.delete(id)
          live.off?.()
          rules.delete(id)
          return { id, removed: true }
        },
        { description: 'Removes a rule', params: IdParams },
      )
    },
    async stop() {
      await Promise.allSettled([...inflight])
    },
  }
}
