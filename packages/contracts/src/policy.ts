import Type, { type Static } from 'typebox'

/**
 * Who a policy rule is about: `plugin:<name>`, `token:<id>` (an HTTP/CLI token), `node:<uid>`
 * (a remote hub), `user:<broker user>` (an MQTT or AMQP client), each with `*` as the name for
 * every one of that kind, or `*` alone for everyone.
 * @public
 */
export const POLICY_SUBJECT_PATTERN =
  '^(?:\\*|(?:plugin|token|node|user):(?:\\*|[A-Za-z0-9._@:-]{1,128}))$'

/**
 * What a rule is about: `<area>.<action>` as in manifest permissions (`services.call`,
 * `events.publish`, `state.write`…), `<area>.*` for every action of an area, or `*`.
 * @public
 */
export const POLICY_ACTION_PATTERN =
  '^(?:\\*|(?:services|events|state|storage|control)\\.(?:\\*|[a-z]+))$'

const RESOURCE_PATTERN = '^(?:[A-Za-z0-9_%-]+|\\*|#)(?:\\.(?:[A-Za-z0-9_%-]+|\\*|#))*$'

/**
 * One rule of an operator policy.
 * @public
 */
export const PolicyRuleSchema = Type.Object(
  {
    effect: Type.Union([Type.Literal('allow'), Type.Literal('deny')], {
      description: 'allow grants (within what the manifest or token already grants); deny refuses',
    }),
    subject: Type.String({
      pattern: POLICY_SUBJECT_PATTERN,
      description: 'plugin:<name>, token:<id>, node:<uid>, user:<name>, with * for any name, or *',
    }),
    action: Type.String({
      pattern: POLICY_ACTION_PATTERN,
      description: '<area>.<action>, <area>.* or *',
    }),
    resource: Type.String({
      pattern: RESOURCE_PATTERN,
      maxLength: 255,
      description: 'An AMQP 0-9-1 topic pattern of names: * one word, # zero or more',
    }),
    description: Type.Optional(Type.String({ maxLength: 500 })),
  },
  { additionalProperties: false },
)

/**
 * An operator policy (the hub config's `policy` file, JSON or YAML). It can only **narrow** what
 * manifests and token scopes grant:
 *
 * - a request is first checked against the manifest (plugins) or scopes (tokens), as without a
 *   policy;
 * - then the rules whose subject, action and resource match it are weighed: the most specific
 *   rule wins (subject `kind:name` over `kind:*` over `*`; then the resource pattern with more
 *   literal words and fewer wildcards; then an exact action over `area.*` over `*`), and between
 *   equally specific rules `deny` beats `allow`;
 * - no matching rule → denied (default deny), except a plugin inside its own namespace, which the
 *   policy narrows only by explicit `deny` rules.
 *
 * For a subscription or watch (a pattern, not one name), an `allow` must cover the whole pattern and
 * any `deny` that overlaps it refuses it.
 * @see AMQP 0-9-1 topic exchange matching
 * @public
 */
export const PolicyDocumentSchema = Type.Object(
  {
    version: Type.Literal(1, { description: 'The policy format version: 1' }),
    rules: Type.Array(PolicyRuleSchema, { maxItems: 10_000 }),
  },
  { additionalProperties: false },
)

/** One rule of a {@link PolicyDocument}. @public */
export type PolicyRule = Static<typeof PolicyRuleSchema>

/** An operator policy; see {@link PolicyDocumentSchema}. @public */
export type PolicyDocument = Static<typeof PolicyDocumentSchema>
