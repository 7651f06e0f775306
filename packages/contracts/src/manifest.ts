import Type, { type Static } from 'typebox'
import { JsonSchemaSchema } from './service.js'

/** A plugin name pattern (= its namespace). @public */
export const PLUGIN_NAME_PATTERN = '^[a-z][a-z0-9-]{0,63}$'

/**
 * A name pattern in a permission: dot-separated words, each a literal word, `*` (exactly one
 * word) or `#` (zero or more words), as in AMQP 0-9-1 topic bindings.
 */
const NAME_PATTERN = '^(?:[A-Za-z0-9_%-]+|\\*|#)(?:\\.(?:[A-Za-z0-9_%-]+|\\*|#))*$'

const patterns = (what: string) =>
  Type.Array(Type.String({ pattern: NAME_PATTERN, maxLength: 255 }), {
    description: `AMQP-style name patterns (\`*\` one word, \`#\` zero or more) of ${what}`,
  })

const rangeMap = (what: string) =>
  Type.Record(Type.String({ pattern: PLUGIN_NAME_PATTERN }), Type.String({ minLength: 1 }), {
    additionalProperties: false,
    description: `${what}: plugin name → semver range (node-semver syntax)`,
  })

/**
 * What a plugin may do outside its own namespace, as name patterns with AMQP 0-9-1 topic
 * semantics (`*` exactly one word, `#` zero or more). The plugin's own namespace needs none.
 *
 * - `services.call` / `services.register`: service names (`lights.*`, `devices.#`);
 * - `events.publish` / `events.subscribe`: event types; a subscription pattern must be
 *   contained in one of the `subscribe` patterns;
 * - `state.read` / `state.write`: `<namespace>.<key>` names (`devices.#`);
 * - `storage.read` / `storage.write`: `<namespace>.<key>` names of other plugins' storage.
 *
 * @see AMQP 0-9-1, topic exchange binding keys
 * @public
 */
export const PluginPermissionsSchema = Type.Object(
  {
    services: Type.Optional(
      Type.Object(
        {
          call: Type.Optional(patterns('services the plugin may call')),
          register: Type.Optional(patterns('services the plugin may register')),
        },
        { additionalProperties: false },
      ),
    ),
    events: Type.Optional(
      Type.Object(
        {
          publish: Type.Optional(patterns('event types the plugin may publish')),
          subscribe: Type.Optional(patterns('event types the plugin may subscribe to')),
        },
        { additionalProperties: false },
      ),
    ),
    state: Type.Optional(
      Type.Object(
        {
          read: Type.Optional(patterns('`<namespace>.<key>` state the plugin may read or watch')),
          write: Type.Optional(patterns('`<namespace>.<key>` state the plugin may set or delete')),
        },
        { additionalProperties: false },
      ),
    ),
    storage: Type.Optional(
      Type.Object(
        {
          read: Type.Optional(
            patterns('`<namespace>.<key>` storage documents the plugin may read'),
          ),
          write: Type.Optional(
            patterns('`<namespace>.<key>` storage documents the plugin may write'),
          ),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false, title: 'PluginPermissions' },
)

/** See {@link PluginPermissionsSchema}. @public */
export type PluginPermissions = Static<typeof PluginPermissionsSchema>

/** How a plugin runs: `inline` (in the kernel's thread; trusted), `worker`, `process`. @public */
export const PluginIsolationSchema = Type.Enum(['inline', 'worker', 'process'], {
  description: 'inline (default, trusted), worker (worker_threads) or process (child process)',
})

/** See {@link PluginIsolationSchema}. @public */
export type PluginIsolation = Static<typeof PluginIsolationSchema>

/**
 * Limits of an isolated plugin's JavaScript heap, in MB, with Node's `resourceLimits` names
 * (`worker_threads`): `maxOldGenerationSizeMb` is the main heap. The hub caps it (kernel option
 * `isolation.maxOldGenerationSizeMb`); a plugin that outgrows it is terminated and failed.
 * Ignored for `inline` plugins; a `process` plugin gets it as `--max-old-space-size`.
 * @see Node.js `worker_threads` `ResourceLimits`
 * @public
 */
export const PluginResourceLimitsSchema = Type.Object(
  {
    maxOldGenerationSizeMb: Type.Optional(
      Type.Integer({ minimum: 8, maximum: 65_536, description: 'Main heap limit, MB' }),
    ),
  },
  { additionalProperties: false, title: 'PluginResourceLimits' },
)

/** See {@link PluginResourceLimitsSchema}. @public */
export type PluginResourceLimits = Static<typeof PluginResourceLimitsSchema>

/**
 * The `corePlugin` field of a plugin's package.json: what makes a package a Core Runtime
 * plugin. The plugin's version is the package.json `version`.
 *
 * - `name`: 1-64 characters, a lower-case letter first, then lower-case letters, digits or
 *   `-`; also the plugin's namespace (its services, events, state and storage live under it);
 * - `entry`: the ES module to import, relative to the package folder;
 * - `coreApi`: semver range the kernel's plugin API version must satisfy (`^1.0.0`);
 * - `requires` / `optionalRequires`: plugin name → semver range;
 * - `permissions`: see {@link PluginPermissionsSchema};
 * - `config`: JSON Schema 2020-12 of the plugin's config (validated, defaults applied);
 * - `isolation`: `inline` (default, in the kernel's thread), `worker` (a `worker_threads`
 *   Worker) or `process` (a child process under Node's permission model; refused with
 *   `E_PLUGIN_MANIFEST` by a kernel on a Node without one);
 * - `resourceLimits`: heap limit of an isolated plugin, see {@link PluginResourceLimitsSchema};
 * - `storage.version`: the plugin-data version its `migrations` bring storage to;
 * - `persistState`: `true` to have the kernel persist the plugin's state namespace (its
 *   name) into storage: every set, delete and expiry is written to storage before it takes
 *   effect, and the namespace is restored before the plugin's `setup` (default `false`, state
 *   kept in memory; a kernel given a shared `stateBackend` keeps the state there instead);
 * - `description`: one sentence.
 *
 * @see semver 2.0.0 and node-semver ranges; JSON Schema 2020-12
 * @example
 * ```json
 * { "name": "hello", "version": "1.0.0", "type": "module",
 *   "corePlugin": { "name": "hello", "entry": "./index.js", "coreApi": "^1.0.0" } }
 * ```
 * @public
 */
export const PluginManifestSchema = Type.Object(
  {
    name: Type.String({
      pattern: PLUGIN_NAME_PATTERN,
      description: "The plugin's name and namespace",
    }),
    entry: Type.String({
      minLength: 1,
      description: 'ES module to import, relative to the package folder',
    }),
    coreApi: Type.String({
      minLength: 1,
      description: "semver range the kernel's plugin API version must satisfy",
    }),
    description: Type.Optional(Type.String({ maxLength: 500 })),
    requires: Type.Optional(rangeMap('Plugins that must be started first')),
    optionalRequires: Type.Optional(rangeMap('Plugins started first when present')),
    permissions: Type.Optional(PluginPermissionsSchema),
    config: Type.Optional(JsonSchemaSchema),
    isolation: Type.Optional(PluginIsolationSchema),
    persistState: Type.Optional(
      Type.Boolean({
        description:
          "Persist the plugin's state namespace into storage, restored before setup (default false).",
      }),
    ),
    resourceLimits: Type.Optional(PluginResourceLimitsSchema),
    storage: Type.Optional(
      Type.Object(
        {
          version: Type.Integer({
            minimum: 0,
            description: 'Plugin-data version the migrations bring storage to',
          }),
        },
        { additionalProperties: false },
      ),
    ),
  },
  {
    $id: 'https://core-runtime.dev/schemas/plugin-manifest.json',
    title: 'PluginManifest',
    description: 'The `corePlugin` field of a Core Runtime plugin package.json',
    additionalProperties: false,
  },
)

/** See {@link PluginManifestSchema}. @public */
export type PluginManifest = Static<typeof PluginManifestSchema>
