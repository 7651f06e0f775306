/**
 * Writes `schemas/node-passport.schema.json`: the NodePassport a node registers with the node
 * registry, as a JSON Schema 2020-12 document, for docs, editors and other languages.
 * Generated from `NodePassportSchema`; a test in this package fails when the file is stale.
 *
 * Run from the repository root: `npx tsx packages/contracts/scripts/emit-node-passport-schema.ts`
 */
import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { NodePassportSchema } from '../src/node-passport.js'

const target = fileURLToPath(new URL('../schemas/node-passport.schema.json', import.meta.url))
const document = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  ...NodePassportSchema,
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
