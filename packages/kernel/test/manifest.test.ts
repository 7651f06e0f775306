import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { CoreError, PluginManifestSchema } from '@core/contracts'
import { Ajv2020 } from 'ajv/dist/2020.js'
import { describe, expect, it } from 'vitest'
import { CORE_API_VERSION, ConfigSchemas, readPluginPackage } from '../src/manifest.js'
import { fixture, tempDir, writePlugin } from './helpers.js'

const schemas = new ConfigSchemas()

async function refusal(location: string): Promise<CoreError> {
  try {
    await readPluginPackage(location, schemas)
  } catch (error) {
    if (CoreError.is(error)) return error
    throw error
  }
  throw new Error(`${location} was accepted`)
}

describe('readPluginPackage', () => {
  it('should read a valid plugin package: manifest, package.json version and entry path', async () => {
    const pkg = await readPluginPackage(fixture('plugins/alpha'), schemas)
    expect(pkg).toMatchObject({
      name: 'alpha',
      version: '1.2.0',
      dir: fixture('plugins/alpha'),
      entryPath: fixture('plugins/alpha/index.js'),
      manifest: { name: 'alpha', coreApi: '^1.0.0' },
    })
  })

  it('should accept the package.json path as well as the folder', async () => {
    const pkg = await readPluginPackage(fixture('plugins/alpha/package.json'), schemas)
    expect(pkg?.name).toBe('alpha')
  })

  it('should refuse a malformed package.json with E_PLUGIN_MANIFEST naming the file and the parse error', async () => {
    const root = await tempDir()
    const dir = await writePlugin(root, 'broken')
    await writeFile(
      join(dir, 'package.json'),
      '{ "name": "broken", "corePlugin": { "name": "broken", } }',
    )
    const error = await refusal(dir)
    expect(error.code).toBe('E_PLUGIN_MANIFEST')
    expect(error.message).toContain(`Malformed package.json at ${join(dir, 'package.json')}`)
    expect(error.message).toMatch(/JSON/)
  })

  it('should refuse a package.json that is not an object', async () => {
    const root = await tempDir()
    const dir = await writePlugin(root, 'array')
    await writeFile(join(dir, 'package.json'), '[1, 2]')
    expect((await refusal(dir)).message).toContain('not a JSON object')
  })

  it('should refuse a folder without package.json with E_NOT_FOUND', async () => {
    const root = await tempDir()
    const error = await refusal(join(root, 'nothing-here'))
    expect(error.code).toBe('E_NOT_FOUND')
  })

  it('should refuse a package without a corePlugin field, unless asked to skip it', async () => {
    const error = await refusal(fixture('bad/no-manifest'))
    expect(error.code).toBe('E_PLUGIN_MANIFEST')
    expect(error.message).toContain('no "corePlugin" field')
    expect(await readPluginPackage(fixture('bad/no-manifest'), schemas, true)).toBeUndefined()
  })

  it('should name the package path and every failing field of an invalid manifest', async () => {
    const error = await refusal(fixture('bad/bad-manifest'))
    expect(error.code).toBe('E_PLUGIN_MANIFEST')
    expect(error.message).toContain(fixture('bad/bad-manifest/package.json'))
    const paths = ((error.details?.errors ?? []) as Array<{ path: string }>).map((e) => e.path)
    for (const field of [
      '/version',
      '/corePlugin/name',
      '/corePlugin/entry',
      '/corePlugin/coreApi',
      '/corePlugin/requires/alpha',
      '/corePlugin/permissions/services/call/0',
      '/corePlugin/permissions/events/shout',
      '/corePlugin/isolation',
      '/corePlugin/surprise',
    ]) {
      expect(paths).toContain(field)
      expect(error.message).toContain(field)
    }
  })

  it.each([
    ['name', { name: 'Has Spaces' }, '/corePlugin/name'],
    ['name too long', { name: `a${'b'.repeat(64)}` }, '/corePlugin/name'],
    ['entry', { entry: '' }, '/corePlugin/entry'],
    ['coreApi not a range', { coreApi: 'not a range' }, '/corePlugin/coreApi'],
    ['requires not a range', { requires: { other: '>>1' } }, '/corePlugin/requires/other'],
    [
      'requires bad name',
      { requires: { 'Not-A-Name': '^1.0.0' } },
      '/corePlugin/requires/Not-A-Name',
    ],
    ['optionalRequires', { optionalRequires: { other: 7 } }, '/corePlugin/optionalRequires/other'],
    ['self dependency', { requires: { self: '*' } }, '/corePlugin/requires/self'],
    ['permissions area', { permissions: { network: {} } }, '/corePlugin/permissions/network'],
    [
      'permission pattern',
      { permissions: { state: { read: ['a.b*'] } } },
      '/corePlugin/permissions/state/read/0',
    ],
    [
      'permissions list',
      { permissions: { events: { publish: 'x.#' } } },
      '/corePlugin/permissions/events/publish',
    ],
    ['config', { config: 'object' }, '/corePlugin/config'],
    ['config schema', { config: { type: 'nonsense' } }, '/corePlugin/config'],
    ['isolation', { isolation: 'vm' }, '/corePlugin/isolation'],
    ['description', { description: 42 }, '/corePlugin/description'],
    ['storage', { storage: { version: -1 } }, '/corePlugin/storage/version'],
    ['unknown field', { colour: 'red' }, '/corePlugin/colour'],
  ])('should refuse a manifest with a wrong %s, naming %s', async (_case, manifest, path) => {
    const root = await tempDir()
    const dir = await writePlugin(root, 'self', { manifest })
    const error = await refusal(dir)
    expect(error.code).toBe('E_PLUGIN_MANIFEST')
    expect(error.message).toContain(path)
    expect(error.message).toContain(join(dir, 'package.json'))
  })

  it('should refuse a package.json version that is not semver', async () => {
    const root = await tempDir()
    const dir = await writePlugin(root, 'v', { version: 'latest' })
    expect((await refusal(dir)).message).toContain('/version must be a semver version')
  })

  it('should refuse the reserved names core and state', async () => {
    const error = await refusal(fixture('bad/reserved-name'))
    expect(error.message).toContain('/corePlugin/name "core" is reserved')
  })

  it('should refuse names starting with core- (kept for the kernel and its adapters)', async () => {
    const root = await tempDir()
    const dir = await writePlugin(root, 'core-auth')
    const error = await refusal(dir)
    expect(error.code).toBe('E_PLUGIN_MANIFEST')
    expect(error.message).toContain('"core-auth" is reserved')
  })

  it('should accept process isolation (the kernel checks for a permission model when it loads)', async () => {
    const pkg = await readPluginPackage(fixture('process-isolation'), schemas)
    expect(pkg?.manifest.isolation).toBe('process')
  })

  it('should refuse a missing entry file, naming the resolved path', async () => {
    const error = await refusal(fixture('bad/missing-entry'))
    expect(error.code).toBe('E_PLUGIN_MANIFEST')
    expect(error.message).toContain('Entry file of plugin "missing-entry" is missing')
    expect(error.message).toContain(fixture('bad/missing-entry/dist/index.js'))
  })

  it('should export a kernel API version that satisfies the manifests of the fixtures', () => {
    expect(CORE_API_VERSION).toMatch(/^\d+\.\d+\.\d+$/)
  })
})

describe('plugin-manifest.schema.json', () => {
  const file = fileURLToPath(
    new URL('../../contracts/schemas/plugin-manifest.schema.json', import.meta.url),
  )

  it('should be up to date with PluginManifestSchema (regenerate: npx tsx packages/contracts/scripts/emit-manifest-schema.ts)', async () => {
    const expected = JSON.parse(
      JSON.stringify({
        $schema: 'https://json-schema.org/draft/2020-12/schema',
        ...PluginManifestSchema,
      }),
    )
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual(expected)
  })

  it('should validate manifests on its own, as an editor would use it', async () => {
    const schema = JSON.parse(await readFile(file, 'utf8'))
    const validate = new Ajv2020({ strict: false }).compile(schema)
    expect(validate({ name: 'hello', entry: './index.js', coreApi: '^1.0.0' })).toBe(true)
    expect(validate({ name: 'Hello', entry: './index.js', coreApi: '^1.0.0' })).toBe(false)
    expect(validate({ name: 'hello', entry: './index.js' })).toBe(false)
  })
})
