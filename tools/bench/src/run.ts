/**
 * `pnpm bench`: runs every suite — each `<name>.bench.ts` module of this folder, whose default
 * export is an async function — or only those named on the command line
 * (`pnpm bench event-bus storage`). Prints JSON lines: figures `{"name","ops_per_s",…}` and
 * same-run ratios `{"ratio","value","of","over","target","met"}`.
 *
 * Runs on the TypeScript sources through tsx (root tsconfig `paths` map `@core/*` to `src/`).
 */
import { readdir } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'

const here = fileURLToPath(new URL('.', import.meta.url))
const wanted = process.argv.slice(2)
const suffix = /\.bench\.(ts|js)$/
const files = (await readdir(here)).filter((f) => suffix.test(f)).sort()
for (const file of files) {
  const name = file.replace(suffix, '')
  if (wanted.length > 0 && !wanted.includes(name)) continue
  process.stdout.write(`${JSON.stringify({ suite: name })}\n`)
  const mod = (await import(new URL(file, import.meta.url).href)) as {
    default: () => Promise<void>
  }
  await mod.default()
}
