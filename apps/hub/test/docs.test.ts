import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { PluginManifestSchema } from '@core/contracts'
import { describe, expect, it } from 'vitest'
import {
  manifestFields,
  renderManifestReference,
  updateManifestDoc,
} from '../src/manifest-reference.js'
import { APP, ROOT } from './helpers.js'

const read = (...parts: string[]): string => readFileSync(join(...parts), 'utf8')

/** The fenced code blocks of the section whose heading starts with `heading`. */
function blocks(markdown: string, heading: string): Array<{ lang: string; code: string }> {
  const start = markdown.indexOf(`\n${heading}`)
  expect(start, `section "${heading}"`).toBeGreaterThan(-1)
  const next = markdown.indexOf('\n## ', start + 1)
  const section = markdown.slice(start, next === -1 ? undefined : next)
  return [...section.matchAll(/```(\w*)\n([\s\S]*?)```/g)].map((m) => ({
    lang: m[1] ?? '',
    code: m[2] ?? '',
  }))
}

/** Every property path of a JSON Schema object, depth first. */
function schemaPaths(node: { properties?: Record<string, unknown> }, prefix = ''): string[] {
  return Object.entries(node.properties ?? {}).flatMap(([key, child]) => {
    const path = prefix === '' ? key : `${prefix}.${key}`
    return [path, ...schemaPaths(child as { properties?: Record<string, unknown> }, path)]
  })
}

describe('docs/plugins.md', () => {
  const guide = read(ROOT, 'docs', 'plugins.md')
  const hello = join(APP, 'plugins', 'hello')

  it('shows the hello plugin exactly as it is in apps/hub/plugins/hello', () => {
    const [pkg] = blocks(guide, '## 2.').filter((b) => b.lang === 'json')
    expect(JSON.parse(pkg?.code ?? '')).toEqual(JSON.parse(read(hello, 'package.json')))
    const [tsconfig] = blocks(guide, '## 3.').filter((b) => b.lang === 'json')
    expect(JSON.parse(tsconfig?.code ?? '')).toEqual(JSON.parse(read(hello, 'tsconfig.build.json')))
    const [source] = blocks(guide, '## 4.').filter((b) => b.lang === 'ts')
    expect(source?.code).toBe(read(hello, 'src', 'index.ts'))
    const [test] = blocks(guide, '## 5.').filter((b) => b.lang === 'ts')
    expect(test?.code).toBe(read(hello, 'test', 'hello.test.ts'))
  })

  it('links to documents that exist', () => {
    for (const [, target] of guide.matchAll(/\]\(([^)#]+\.md)\)/g)) {
      expect(() => read(ROOT, 'docs', target ?? ''), target).not.toThrow()
    }
  })
})

describe('docs/manifest.md', () => {
  const doc = read(ROOT, 'docs', 'manifest.md')

  it('holds the reference generated from the current schema', () => {
    expect(updateManifestDoc(doc)).toBe(doc)
  })

  it('documents every property of the schema, and of the emitted JSON Schema file, with a meaning', () => {
    const emitted = JSON.parse(
      read(ROOT, 'packages', 'contracts', 'schemas', 'plugin-manifest.schema.json'),
    )
    const paths = new Set([...schemaPaths(PluginManifestSchema), ...schemaPaths(emitted)])
    const fields = new Map(manifestFields().map((f) => [f.path, f]))
    for (const path of paths) {
      expect(doc, path).toContain(`| \`${path}\` |`)
      expect(fields.get(path)?.description.length, path).toBeGreaterThan(10)
    }
    expect(fields.size).toBe(paths.size)
  })

  it('renders types, limits and required flags from the schema', () => {
    const table = renderManifestReference({
      type: 'object',
      required: ['id'],
      properties: {
        id: { type: 'string', pattern: '^a|b$', description: 'the id' },
        level: { type: 'integer', minimum: 0 },
        tags: { type: 'array', items: { type: 'string', maxLength: 5 } },
        mode: { enum: ['x', 'y'] },
      },
    })
    expect(table).toContain('| `id` | string (pattern `^a\\|b$`) | yes | The id. |')
    expect(table).toContain('| `level` | integer (≥ 0) | no |  |')
    expect(table).toContain('| `tags` | array of string (≤ 5 chars) | no |')
    expect(table).toContain('| `mode` | one of `"x"`, `"y"` | no |')
  })
})
