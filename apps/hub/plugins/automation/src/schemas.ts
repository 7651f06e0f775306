import Type, { type Static } from 'typebox'

/** A rule id: one word (it is a storage key and a word of the rule's event types). */
export const RULE_ID_PATTERN = '^[a-z0-9][a-z0-9_-]{0,63}$'

/**
 * A dot path into the event envelope: `data.contact`, `data.state.on`, `subject`, `type`.
 * Segments are property names (own properties only) or array indexes.
 */
const Path = Type.String({
  pattern: '^[A-Za-z0-9_$-]+(\\.[A-Za-z0-9_$-]+)*$',
  maxLength: 200,
  description: 'Dot path into the event envelope, e.g. data.contact',
})

/**
 * One condition on the triggering event: the value at `path` compared with `value`.
 * - `eq` / `ne`: equal / not equal as JSON values (deep);
 * - `gt` `gte` `lt` `lte`: numbers with numbers, strings with strings;
 * - `in`: equal to one of `value` (an array);
 * - `exists`: the path leads to a value (`value: false`: it does not).
 * A path that leads to no value fails every operator except `exists: false`.
 */
export const ConditionSchema = Type.Union([
  Type.Object(
    { path: Path, op: Type.Enum(['eq', 'ne']), value: Type.Unknown() },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      path: Path,
      op: Type.Enum(['gt', 'gte', 'lt', 'lte']),
      value: Type.Union([Type.Number(), Type.String()]),
    },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      path: Path,
      op: Type.Literal('in'),
      value: Type.Array(Type.Unknown(), { minItems: 1, maxItems: 100 }),
    },
    { additionalProperties: false },
  ),
  Type.Object(
    { path: Path, op: Type.Literal('exists'), value: Type.Optional(Type.Boolean()) },
    { additionalProperties: false },
  ),
])
export type Condition = Static<typeof ConditionSchema>

/** A rule: when an event matching `when.event` arrives and every condition holds, call `action.call`. */
export const RuleSchema = Type.Object(
  {
    id: Type.String({
      pattern: RULE_ID_PATTERN,
      description: 'Rule id: lower-case letters, digits, "_" or "-"',
    }),
    description: Type.Optional(Type.String({ maxLength: 500 })),
    enabled: Type.Optional(Type.Boolean({ description: 'false: kept but not run (default true)' })),
    when: Type.Object(
      {
        event: Type.String({
          minLength: 1,
          maxLength: 255,
          description: 'AMQP-style pattern of event types: * one word, # zero or more',
        }),
        conditions: Type.Optional(
          Type.Array(ConditionSchema, { maxItems: 32, description: 'All must hold' }),
        ),
      },
      { additionalProperties: false },
    ),
    action: Type.Object(
      {
        call: Type.String({
          minLength: 3,
          maxLength: 255,
          description: 'The service to call, namespace.method',
        }),
        params: Type.Optional(
          Type.Record(Type.String(), Type.Unknown(), {
            description:
              'Params of the call; a value { "$from": "data.x" } is replaced by that value of the event',
          }),
        ),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
)
export type Rule = Static<typeof RuleSchema>

/** What `automation.list` and `automation.get` return: the rule and what it did since the hub started. */
export interface RuleView extends Rule {
  stats: { fired: number; failed: number; skipped: number; lastFiredAt?: string }
}

export const IdParams = Type.Object(
  { id: Type.String({ pattern: RULE_ID_PATTERN }) },
  { additionalProperties: false },
)
export type IdParams = Static<typeof IdParams>
