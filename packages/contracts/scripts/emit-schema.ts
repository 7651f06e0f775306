/**
 * The shared step of the schema scripts: writes `schemas/<fileName>` as a JSON Schema 2020-12
 * document made of `schema`, formatted as the repository's formatter (Biome) would, so that
 * `pnpm lint` stays green.
 */
import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

export function emitSchema(fileName: string, schema: object): void {
  const target = fileURLToPath(new URL(`../schemas/${fileName}`, import.meta.url))
  const document = { $schema: 'https://json-schema.org/draft/2020-12/schema', ...schema }
  writeFileSync(target, `${JSON.stringify(document, null, 2)}\n`)
  const biome = fileURLToPath(new URL('../../../node_modules/.bin/biome', import.meta.url))
  try {
    execFileSync(biome, ['format', '--write', target], { stdio: 'ignore' })
  } catch {
    process.stderr.write('biome not found: the schema file is written unformatted\n')
  }
  process.stdout.write(`wrote ${target}\n`)
}
