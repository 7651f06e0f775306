/**
 * Renders the plugin manifest's JSON Schema (`PluginManifestSchema` of `@core/contracts`) as
 * the Markdown reference tables of docs/manifest.md, between the BEGIN/END GENERATED markers.
 *
 * Run from the repository root to rewrite the file: `npx tsx apps/hub/src/manifest-reference.ts`
 * (`--check` exits 1 when the file is stale instead). A test in apps/hub fails when it is stale.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { PluginManifestSchema } from '@core/contracts'

/** A JSON Schema node, as far as the renderer reads it. */
interface Node {
  type?: string
  description?: string
  title?: string
  pattern?: string
  minLength?: number
  maxLength?: number
  minimum?: number
  enum?: unknown[]
  items?: Node
  properties?: Record<string, Node>
  patternProperties?: Record<string, Node>
  required?: string[]
  additionalProperties?: boolean | Node
}

/** One documented field: its dotted path, type, whether it is required, and what it means. */
export interface ManifestField {
  path: string
  type: string
  required: boolean
  description: string
}

export const BEGIN_MARKER = '<!-- BEGIN GENERATED: npx tsx apps/hub/src/manifest-reference.ts -->'
export const END_MARKER = '<!-- END GENERATED -->'

/**
 * What the schema does not say about a field: its meaning in the kernel. Keyed by dotted path;
 * appended to the schema's own description.
 */
const NOTES: Record<string, string> = {
  name: 'Services (`<name>.<method>`), event types (`<name>.…`), state and storage of the plugin live under it. Unique in a hub: two plugins with one name stop the boot with `E_PLUGIN_MANIFEST` naming both paths.',
  entry:
    'E.g. `./dist/index.js`. It must export (as `default` or `plugin`) a `definePlugin({...})` object, a class or a setup function; a missing file or an unusable export fails the plugin at the `load` step.',
  coreApi:
    'E.g. `^1.0.0`. The kernel offers API version 1.0.0; a mismatch is `E_PLUGIN_DEPENDENCY`.',
  description: 'One sentence for people: shown by plugin lists.',
  requires:
    'Each must be present in a satisfying version (else `E_PLUGIN_DEPENDENCY` naming the plugin, the dependency, the wanted range and the version found) and starts first; a cycle is an error printing the cycle path.',
  optionalRequires: 'Start first when present; block nothing when absent.',
  permissions:
    "Everything outside the plugin's own namespace is denied (`E_FORBIDDEN`, logged and counted) unless a pattern here covers it.",
  'permissions.services': 'Service names.',
  'permissions.events': 'Event types (`state.<namespace>.<key>` for state changes).',
  'permissions.state': '`<namespace>.<key>` of state keys.',
  'permissions.storage':
    "`<namespace>.<key>` of other plugins' storage documents (via `ctx.storage.forNamespace(ns)`).",
  config:
    "The plugin's config (the hub config's `config.<name>`) is validated against it, with `default`s applied, and handed over frozen as `ctx.config`; a mismatch fails the plugin at `setup`.",
  isolation:
    "`worker` runs the plugin in a `worker_threads` Worker (its `ctx` calls checked in the kernel, a heartbeat watchdog, a heap limit, restarts with backoff); it must be a package folder. `process` runs it in a child process under Node's permission model (reads only its package and its dependencies, writes only `<dataDir>/plugins/<name>`, no child processes, workers or addons, no hub secrets in its environment); refused (`E_PLUGIN_MANIFEST`) on a Node without the permission model.",
  resourceLimits: 'For `worker` and `process` plugins; ignored inline.',
  'resourceLimits.maxOldGenerationSizeMb':
    'Capped by the kernel option `isolation.maxOldGenerationSizeMb` (default 256, also the limit when this is absent); a worker or process that outgrows it is ended and its plugin failed.',
  storage: 'Plugin-data versioning.',
  'storage.version':
    "Before `setup`, the kernel runs the plugin's `migrations` (`{ 1: async (storage) => …, 2: … }`) from the recorded version up to this one, in one transaction.",
}

/** Every field of the schema, depth first, with its type and description. */
export function manifestFields(
  schema: Node = PluginManifestSchema as unknown as Node,
): ManifestField[] {
  const out: ManifestField[] = []
  const walk = (node: Node, prefix: string): void => {
    const required = new Set(node.required ?? [])
    for (const [key, child] of Object.entries(node.properties ?? {})) {
      const path = prefix === '' ? key : `${prefix}.${key}`
      const description = [child.description, NOTES[path]]
        .filter((d): d is string => d !== undefined && d !== '')
        .map(sentence)
        .join(' ')
      out.push({ path, type: typeOf(child), required: required.has(key), description })
      if (child.properties !== undefined) walk(child, path)
    }
  }
  walk(schema, '')
  return out
}

/** The generated Markdown: one table of every field. */
export function renderManifestReference(schema?: Node): string {
  const rows = manifestFields(schema).map(
    (f) =>
      `| \`${f.path}\` | ${escapeCell(f.type)} | ${f.required ? 'yes' : 'no'} | ${escapeCell(f.description)} |`,
  )
  return ['| Field | Type | Required | Meaning |', '| --- | --- | --- | --- |', ...rows].join('\n')
}

/** `text` with the part between the markers replaced by {@link renderManifestReference}. */
export function updateManifestDoc(text: string, schema?: Node): string {
  const begin = text.indexOf(BEGIN_MARKER)
  const end = text.indexOf(END_MARKER)
  if (begin === -1 || end === -1 || end < begin) {
    throw new Error(`docs/manifest.md must hold the markers ${BEGIN_MARKER} and ${END_MARKER}`)
  }
  return `${text.slice(0, begin + BEGIN_MARKER.length)}\n\n${renderManifestReference(schema)}\n\n${text.slice(end)}`
}

function typeOf(node: Node): string {
  if (node.enum !== undefined)
    return `one of ${node.enum.map((v) => `\`${JSON.stringify(v)}\``).join(', ')}`
  const limits: string[] = []
  if (node.pattern !== undefined) limits.push(`pattern \`${node.pattern}\``)
  if (node.minLength !== undefined) limits.push(`${node.minLength}+ chars`)
  if (node.maxLength !== undefined) limits.push(`≤ ${node.maxLength} chars`)
  if (node.minimum !== undefined) limits.push(`≥ ${node.minimum}`)
  const base = node.type ?? 'any'
  const suffix = limits.length === 0 ? '' : ` (${limits.join(', ')})`
  if (base === 'array') return `array of ${node.items === undefined ? 'any' : typeOf(node.items)}`
  if (base === 'object' && node.patternProperties !== undefined) {
    const [[keyPattern, value] = ['', {}]] = Object.entries(node.patternProperties)
    if (keyPattern === '^.*$' || node.title === 'JsonSchema')
      return `object: ${node.title ?? 'map'}`
    return `object: key (pattern \`${keyPattern}\`) → ${typeOf(value)}`
  }
  return `${base}${suffix}`
}

function sentence(text: string): string {
  const t = text.trim()
  if (t === '') return ''
  const capital = t[0]?.toUpperCase() + t.slice(1)
  return /[.!?)]$/.test(capital) ? capital : `${capital}.`
}

function escapeCell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ')
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const file = fileURLToPath(new URL('../../../docs/manifest.md', import.meta.url))
  const current = readFileSync(file, 'utf8')
  const next = updateManifestDoc(current)
  if (process.argv.includes('--check')) {
    if (next !== current) {
      process.stderr.write(`${file} is stale: run npx tsx apps/hub/src/manifest-reference.ts\n`)
      process.exit(1)
    }
  } else {
    writeFileSync(file, next)
    process.stdout.write(`wrote ${file}\n`)
  }
}
