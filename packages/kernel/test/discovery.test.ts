import { cp, mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { CoreError } from '@core/contracts'
import { describe, expect, it } from 'vitest'
import { discoverCandidates, resolvePluginSpec } from '../src/discovery.js'
import { fixture, tempDir, testKernel, writePlugin } from './helpers.js'

/** A host app folder whose node_modules hold alpha (a plugin) and lodash-like (not a plugin). */
async function hostApp(): Promise<string> {
  const root = await tempDir()
  await writeFile(
    join(root, 'package.json'),
    JSON.stringify({
      name: 'my-hub',
      dependencies: {
        '@fixtures/alpha': '^1.0.0',
        'not-a-plugin': '^1.0.0',
        'not-installed': '^1.0.0',
      },
      optionalDependencies: { '@fixtures/beta': '*' },
    }),
  )
  await mkdir(join(root, 'node_modules/@fixtures'), { recursive: true })
  await cp(fixture('plugins/alpha'), join(root, 'node_modules/@fixtures/alpha'), {
    recursive: true,
  })
  await cp(fixture('plugins/beta'), join(root, 'node_modules/@fixtures/beta'), { recursive: true })
  await mkdir(join(root, 'node_modules/not-a-plugin'), { recursive: true })
  await writeFile(
    join(root, 'node_modules/not-a-plugin/package.json'),
    '{"name":"not-a-plugin","version":"1.0.0"}',
  )
  return root
}

describe('discoverCandidates', () => {
  it('should find host dependencies, then plugin folders, then the explicit list, in that order', async () => {
    const host = await hostApp()
    const extra = await writePlugin(await tempDir(), 'extra')
    const found = await discoverCandidates({
      hostPackage: join(host, 'package.json'),
      pluginDirs: [fixture('plugins')],
      plugins: [extra],
    })
    expect(found.map((c) => [c.source, c.dir])).toEqual([
      ['host', join(host, 'node_modules/@fixtures/alpha')],
      ['host', join(host, 'node_modules/not-a-plugin')],
      ['host', join(host, 'node_modules/@fixtures/beta')],
      ['dir', fixture('plugins/alpha')],
      ['dir', fixture('plugins/beta')],
      ['dir', fixture('plugins/gamma')],
      ['explicit', extra],
    ])
  })

  it('should resolve host dependencies from a parent node_modules, as Node does', async () => {
    const host = await hostApp()
    const app = join(host, 'apps/hub')
    await mkdir(app, { recursive: true })
    await writeFile(
      join(app, 'package.json'),
      JSON.stringify({ name: 'hub', dependencies: { '@fixtures/alpha': '*' } }),
    )
    const found = await discoverCandidates({ hostPackage: app })
    expect(found.map((c) => c.dir)).toEqual([join(host, 'node_modules/@fixtures/alpha')])
  })

  it('should resolve an explicit package name from the host folder', async () => {
    const host = await hostApp()
    expect(resolvePluginSpec('@fixtures/beta', host)).toBe(
      join(host, 'node_modules/@fixtures/beta'),
    )
    expect(resolvePluginSpec(fixture('plugins/beta/package.json'))).toBe(fixture('plugins/beta'))
  })

  it('should refuse an explicit plugin that is neither a folder nor an installed package', () => {
    expect(() => resolvePluginSpec('nowhere-plugin', process.cwd())).toThrowError(
      /Plugin "nowhere-plugin" not found/,
    )
  })

  it('should refuse a plugin folder that does not exist with E_NOT_FOUND', async () => {
    const root = await tempDir()
    await expect(discoverCandidates({ pluginDirs: [join(root, 'missing')] })).rejects.toMatchObject(
      {
        code: 'E_NOT_FOUND',
      },
    )
  })

  it('should refuse a missing or malformed host package.json', async () => {
    const root = await tempDir()
    await expect(discoverCandidates({ hostPackage: root })).rejects.toMatchObject({
      code: 'E_NOT_FOUND',
    })
    await writeFile(join(root, 'package.json'), '{ nope')
    await expect(discoverCandidates({ hostPackage: root })).rejects.toMatchObject({
      code: 'E_PLUGIN_MANIFEST',
    })
  })
})

describe('kernel discovery', () => {
  it('should start the plugins of the host dependencies and skip dependencies that are not plugins', async () => {
    const host = await hostApp()
    const kernel = testKernel({ hostPackage: host })
    const report = await kernel.start()
    expect(report.started).toEqual(['alpha', 'beta'])
    expect((await kernel.plugins.get('alpha')).source).toBe('host')
  })

  it('should refuse the same plugin name found twice with E_PLUGIN_MANIFEST naming both paths', async () => {
    const host = await hostApp()
    const kernel = testKernel({ hostPackage: host, pluginDirs: [fixture('plugins')] })
    const error = await kernel.start().then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(CoreError.is(error, 'E_PLUGIN_MANIFEST')).toBe(true)
    expect((error as CoreError).message).toContain(join(host, 'node_modules/@fixtures/alpha'))
    expect((error as CoreError).message).toContain(fixture('plugins/alpha'))
    expect((error as CoreError).details).toMatchObject({ plugin: 'alpha' })
  })
})
