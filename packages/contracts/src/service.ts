import Type, { type Static } from 'typebox'

/**
 * A JSON Schema (2020-12) document, as TypeBox builds it or as written by hand.
 * @public
 */
export const JsonSchemaSchema = Type.Record(Type.String(), Type.Unknown(), {
  title: 'JsonSchema',
  description: 'A JSON Schema 2020-12 document',
})

/** A JSON Schema document. @public */
export type JsonSchema = Static<typeof JsonSchemaSchema>

/**
 * What the service registry says about one registered service: enough to call it, to
 * validate its input and output elsewhere and to write an OpenAPI 3.1 operation for it.
 *
 * - `name`: `namespace.method`;
 * - `version`: semver (node-semver), `0.0.0`-style, several may coexist;
 * - `params` / `result`: JSON Schemas of the input and (when declared) the output;
 * - `timeoutMs`: the deadline applied to each call, in milliseconds;
 * - `idempotent`: safe to retry;
 * - `node`: the id of the hub that serves it, for services reached through a remote transport.
 *
 * @see semver 2.0.0; JSON Schema 2020-12; OpenAPI 3.1 (operations are generated from these)
 * @public
 */
export const ServiceDescriptorSchema = Type.Object(
  {
    name: Type.String({ pattern: '^[a-z][a-z0-9-]{0,63}(\\.[A-Za-z0-9_-]+)+$' }),
    version: Type.String({ minLength: 5 }),
    description: Type.Optional(Type.String()),
    params: JsonSchemaSchema,
    result: Type.Optional(JsonSchemaSchema),
    timeoutMs: Type.Integer({ minimum: 1 }),
    idempotent: Type.Boolean(),
    node: Type.Optional(Type.String({ minLength: 1 })),
  },
  { $id: 'https://core-runtime.dev/schemas/service-descriptor.json', title: 'ServiceDescriptor' },
)

/** See {@link ServiceDescriptorSchema}. @public */
export type ServiceDescriptor = Static<typeof ServiceDescriptorSchema>
