/**
 * Writes `schemas/plugin-manifest.schema.json`: the plugin manifest (`corePlugin` in a plugin's
 * package.json) as a JSON Schema 2020-12 document, for docs and editors. Generated from
 * `PluginManifestSchema`; a test in `@core/kernel` fails when the committed file is stale.
 *
 * Run from the repository root: `npx tsx packages/contracts/scripts/emit-manifest-schema.ts`
 */
import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { PluginManifestSchema } from '../src/manifest.js'

const target = fileURLToPath(new URL('../schemas/plugin-manifest.schema.json', import.meta.url))
const document = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  ...PluginManifestSchema,
}
writeFileSync(target, `${JSON.stringify(document, null, 2)}\n`)
// Leave it as the repository's formatter (Biome) would, so that `pnpm lint` stays green.
const biome = fileURLToPath(new URL('../../../node_modules/.bin/biome', import.meta.url))
try {
  execFileSync(biome, ['format', '--write', target], { stdio: 'ignore' })
} catch {
  process.stderr.write('biome not found: the schema file is written unformatted\n')
}
process.stdout.write(`wrote ${target}\n`)
