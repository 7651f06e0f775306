/**
 * Writes `schemas/plugin-manifest.schema.json`: the plugin manifest (`corePlugin` in a plugin's
 * package.json) as a JSON Schema 2020-12 document, for docs and editors. Generated from
 * `PluginManifestSchema`; a test in `@core/kernel` fails when the committed file is stale.
 *
 * Run from the repository root: `npx tsx packages/contracts/scripts/emit-manifest-schema.ts`
 */
import { PluginManifestSchema } from '../src/manifest.js'
import { emitSchema } from './emit-schema.js'

emitSchema('plugin-manifest.schema.json', PluginManifestSchema)
