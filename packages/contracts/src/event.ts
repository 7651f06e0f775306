import Type, { type Static } from 'typebox'

/**
 * The event envelope: CloudEvents 1.0 attributes in their JSON format, plus the W3C
 * `traceparent` extension. `type` is the topic (dot-separated words, first word = namespace).
 *
 * Required: `specversion` (`"1.0"`), `id` (unique per `source`), `source` (URI-reference of the
 * producer, e.g. `/plugins/devices`), `type`. Optional: `time` (RFC 3339), `subject`,
 * `datacontenttype` (default `application/json`), `dataschema`, `traceparent`,
 * `tracestate`, `data`.
 *
 * @see CloudEvents 1.0, "Context Attributes"; CloudEvents JSON Event Format 1.0;
 *   CloudEvents Distributed Tracing extension (W3C Trace Context)
 * @public
 */
export const CloudEventSchema = Type.Object(
  {
    specversion: Type.Literal('1.0'),
    id: Type.String({ minLength: 1 }),
    source: Type.String({ minLength: 1, format: 'uri-reference' }),
    type: Type.String({ minLength: 1 }),
    time: Type.Optional(Type.String({ format: 'date-time' })),
    subject: Type.Optional(Type.String({ minLength: 1 })),
    datacontenttype: Type.Optional(Type.String({ minLength: 1 })),
    dataschema: Type.Optional(Type.String({ minLength: 1, format: 'uri' })),
    traceparent: Type.Optional(
      Type.String({ pattern: '^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$' }),
    ),
    tracestate: Type.Optional(Type.String()),
    data: Type.Optional(Type.Unknown()),
  },
  { $id: 'https://core-runtime.dev/schemas/cloud-event.json', title: 'CloudEvent' },
)

/**
 * A CloudEvents 1.0 envelope whose `data` is `T`. See {@link CloudEventSchema}.
 * @public
 */
export type CloudEvent<T = unknown> = Omit<Static<typeof CloudEventSchema>, 'data'> & { data: T }

/** The CloudEvents attributes every envelope must carry. @public */
export const CLOUD_EVENT_REQUIRED_ATTRIBUTES: readonly string[] = [
  'id',
  'source',
  'specversion',
  'type',
]
