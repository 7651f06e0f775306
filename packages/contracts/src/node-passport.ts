import Type, { type Static } from 'typebox'

/** The API group and version of a passport this release writes. @public */
export const NODE_PASSPORT_API_VERSION = 'core.runtime/v1'

/**
 * `apiVersion` values a v1 registry accepts: `core.runtime/v1` and its compatible additions
 * `core.runtime/v1.<n>` (unknown extra fields are kept). `v2` or another group is refused.
 * @public
 */
export const NODE_PASSPORT_API_VERSION_PATTERN = '^core\\.runtime/v1(?:\\.[0-9]+)?$'

/**
 * A Kubernetes label key: an optional DNS-subdomain prefix and `/`, then a name of 1-63
 * characters `[A-Za-z0-9._-]`, starting and ending alphanumeric. The prefix's total length
 * (≤ 253) is checked in code, a regular expression cannot say it cheaply.
 * @see kubernetes/apimachinery pkg/util/validation `IsQualifiedName`
 * @public
 */
export const LABEL_KEY_PATTERN =
  '^(?:[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?(?:\\.[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?)*/)?[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$'

/**
 * A Kubernetes label value: empty, or 1-63 characters `[A-Za-z0-9._-]` starting and ending
 * alphanumeric.
 * @see kubernetes/apimachinery pkg/util/validation `IsValidLabelValue`
 * @public
 */
export const LABEL_VALUE_PATTERN = '^(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$'

/**
 * A Kubernetes resource quantity: a signed decimal number and an optional suffix, binary
 * (`Ki Mi Gi Ti Pi Ei`), decimal SI (`n u m k M G T P E`) or a decimal exponent (`e3`, `E-2`).
 * @see kubernetes/apimachinery pkg/api/resource `Quantity`
 * @public
 */
export const QUANTITY_PATTERN =
  '^[+-]?(?:[0-9]+(?:\\.[0-9]*)?|\\.[0-9]+)(?:Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?$'

/** A node name: a DNS label (RFC 1123), 1-63 lower-case letters, digits or `-`. */
const NODE_NAME_PATTERN = '^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$'

/** The lower-case word of a node type (`hub`, `agent`, `gateway`, `storage`, …). */
const NODE_TYPE_PATTERN = '^[a-z][a-z0-9-]{0,62}$'

/**
 * The labels of a passport: Kubernetes label keys → values ({@link LABEL_KEY_PATTERN},
 * {@link LABEL_VALUE_PATTERN}).
 * @public
 */
export const NodeLabelsSchema = Type.Record(
  Type.String({ pattern: LABEL_KEY_PATTERN }),
  Type.String({ pattern: LABEL_VALUE_PATTERN, maxLength: 63 }),
  { additionalProperties: false, description: 'Kubernetes labels: key → value' },
)

/** See {@link NodeLabelsSchema}. @public */
export type NodeLabels = Static<typeof NodeLabelsSchema>

/**
 * What a node offers: `services` (`[{ name, version }]`, semver versions) and `events` (AMQP
 * topic patterns it publishes). Extra fields of a `v1.x` writer are kept.
 * @public
 */
export const NodeCapabilitiesSchema = Type.Object(
  {
    services: Type.Array(
      Type.Object(
        {
          name: Type.String({ minLength: 1, maxLength: 255 }),
          version: Type.String({ minLength: 1, maxLength: 64 }),
        },
        { additionalProperties: true },
      ),
      { description: 'Services the node serves, `[{ name, version }]`' },
    ),
    events: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 255 }), {
        description: 'Topic patterns the node publishes',
      }),
    ),
  },
  { additionalProperties: true },
)

/** See {@link NodeCapabilitiesSchema}. @public */
export type NodeCapabilities = Static<typeof NodeCapabilitiesSchema>

/**
 * One condition of a node's status, as Kubernetes' `NodeCondition`: `type` (`Ready`, …),
 * `status` `True`/`False`/`Unknown`, `lastTransitionTime` (RFC 3339), `reason`, `message`.
 * @public
 */
export const NodeConditionSchema = Type.Object(
  {
    type: Type.String({ minLength: 1, maxLength: 63 }),
    status: Type.Enum(['True', 'False', 'Unknown']),
    lastTransitionTime: Type.Optional(Type.String({ format: 'date-time' })),
    reason: Type.Optional(Type.String({ maxLength: 1024 })),
    message: Type.Optional(Type.String({ maxLength: 32768 })),
  },
  { additionalProperties: true },
)

/** See {@link NodeConditionSchema}. @public */
export type NodeCondition = Static<typeof NodeConditionSchema>

/** A node's own report of its phase: `Pending`, `Running`, `NotReady`, `Offline`. @public */
export const NodePhaseSchema = Type.Enum(['Pending', 'Running', 'NotReady', 'Offline'])

/** See {@link NodePhaseSchema}. @public */
export type NodePhase = Static<typeof NodePhaseSchema>

/**
 * A node's status as the node reports it: `phase` and `conditions`.
 * @public
 */
export const NodeStatusSchema = Type.Object(
  {
    phase: Type.Optional(NodePhaseSchema),
    conditions: Type.Optional(Type.Array(NodeConditionSchema)),
  },
  { additionalProperties: true },
)

/** See {@link NodeStatusSchema}. @public */
export type NodeStatus = Static<typeof NodeStatusSchema>

/**
 * A node's description, Kubernetes-style (`apiVersion`, `kind`, `metadata`, `spec`, `status`):
 *
 * - `apiVersion`: `core.runtime/v1` or a compatible `core.runtime/v1.<n>`; `kind: "NodePassport"`;
 * - `metadata`: `uid` (UUID, the node's identity), `name` (DNS label, not unique), `nodeType`
 *   (`hub`, `agent`, `gateway`, `storage` or another lower-case word), `labels`
 *   (Kubernetes label syntax), `annotations` (free strings);
 * - `spec`: `capabilities` (`services: [{ name, version }]`, `events`), `roles`, `endpoint`
 *   (e.g. its HTTP URL), `resources` (Kubernetes quantities: `"2"`, `"500m"`, `"4Gi"`);
 * - `status`: `phase` and `conditions` (`Ready` = `True`/`False`/`Unknown`).
 *
 * Fields this release does not know are allowed everywhere and kept as written (a `v1.x`
 * writer may add them).
 *
 * @see Kubernetes API conventions (object metadata, labels, `NodeCondition`); RFC 4122 (uid)
 * @example
 * ```json
 * { "apiVersion": "core.runtime/v1", "kind": "NodePassport",
 *   "metadata": { "uid": "0b8f…", "name": "kitchen-hub", "nodeType": "hub", "labels": { "room": "kitchen" } },
 *   "spec": { "capabilities": { "services": [{ "name": "lights.toggle", "version": "1.0.0" }] } } }
 * ```
 * @public
 */
export const NodePassportSchema = Type.Object(
  {
    apiVersion: Type.String({
      pattern: NODE_PASSPORT_API_VERSION_PATTERN,
      description: 'core.runtime/v1 (or a compatible core.runtime/v1.<n>)',
    }),
    kind: Type.Literal('NodePassport'),
    metadata: Type.Object(
      {
        uid: Type.String({ format: 'uuid', description: "The node's identity" }),
        name: Type.String({ pattern: NODE_NAME_PATTERN, description: 'A DNS label' }),
        nodeType: Type.String({
          pattern: NODE_TYPE_PATTERN,
          description: 'hub, agent, gateway, storage or another lower-case word',
        }),
        labels: Type.Optional(NodeLabelsSchema),
        annotations: Type.Optional(
          Type.Record(Type.String({ minLength: 1, maxLength: 317 }), Type.String()),
        ),
      },
      { additionalProperties: true },
    ),
    spec: Type.Object(
      {
        capabilities: NodeCapabilitiesSchema,
        roles: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 63 }))),
        endpoint: Type.Optional(Type.String({ minLength: 1, maxLength: 2048 })),
        resources: Type.Optional(
          Type.Record(
            Type.String({ pattern: LABEL_KEY_PATTERN }),
            Type.String({ pattern: QUANTITY_PATTERN, maxLength: 64 }),
            { additionalProperties: false },
          ),
        ),
      },
      { additionalProperties: true },
    ),
    status: Type.Optional(NodeStatusSchema),
  },
  {
    $id: 'https://core-runtime.dev/schemas/node-passport.json',
    title: 'NodePassport',
    description: "A Core Runtime node's description: identity, labels, capabilities, status",
    additionalProperties: true,
  },
)

/** See {@link NodePassportSchema}. @public */
export type NodePassport = Static<typeof NodePassportSchema>
