import { mkdir, mkdtemp, realpath, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CoreError } from '@core/contracts'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { DEFAULT_HUB_MODULE, resolveHubModule } from '../src/hub-module.js'
import { HUB_INSTALL_HINT, startHubFromModule } from '../src/index.js'

let root: string

beforeEach(async () => {
  root = await realpath(await mkdtemp(join(tmpdir(), 'core-cli-hub-module-')))
})
afterEach(async () => {
  await rm(root, { recursive: true, force: true })
})

/** A fake installed hub package at `<dir>/node_modules/<name>` whose runHub reports `tag`. */
async function fakeHub(
  dir: string,
  tag: string,
  name = '@core/hub',
  manifest: Record<string, unknown> = {
    exports: { '.': { types: './dist/index.d.ts', import: './dist/index.js' } },
  },
): Promise<string> {
  const pkgDir = join(dir, 'node_modules', ...name.split('/'))
  await mkdir(join(pkgDir, 'dist'), { recursive: true })
  await writeFile(
    join(pkgDir, 'package.json'),
    JSON.stringify({ name, version: '0.0.0', type: 'module', ...manifest }),
  )
  await writeFile(
    join(pkgDir, 'dist', 'index.js'),
    `export const runHub = async (options) => ({ hub: ${JSON.stringify(tag)}, options })\n`,
  )
  return pkgDir
}

async function refusal(run: () => Promise<unknown>): Promise<CoreError> {
  const error = await run().then(
    () => undefined,
    (e: unknown) => e,
  )
  if (CoreError.is(error)) return error
  throw new Error(`expected a CoreError, got ${String(error)}`)
}

describe('resolveHubModule', () => {
  it('finds node_modules/@core/hub walking up from the working directory, through its exports', async () => {
    const pkgDir = await fakeHub(root, 'project')
    const deep = join(root, 'src', 'deep')
    await mkdir(deep, { recursive: true })
    const file = resolveHubModule(DEFAULT_HUB_MODULE, { cwd: deep, cliDir: join(root, 'nowhere') })
    expect(file).toBe(join(pkgDir, 'dist', 'index.js'))
  })

  it("prefers the project's hub to the one next to the CLI", async () => {
    const project = join(root, 'project')
    const global = join(root, 'global')
    const projectHub = await fakeHub(project, 'project')
    await fakeHub(global, 'global')
    const cliDir = join(global, 'node_modules', '@core', 'cli', 'dist')
    await mkdir(cliDir, { recursive: true })
    expect(resolveHubModule('@core/hub', { cwd: project, cliDir })).toBe(
      join(projectHub, 'dist', 'index.js'),
    )
  })

  it('falls back to the CLI location (global installs side by side)', async () => {
    const global = join(root, 'lib')
    const globalHub = await fakeHub(global, 'global')
    const cliDir = join(global, 'node_modules', '@core', 'cli', 'dist')
    await mkdir(cliDir, { recursive: true })
    const elsewhere = join(root, 'elsewhere')
    await mkdir(elsewhere)
    expect(resolveHubModule('@core/hub', { cwd: elsewhere, cliDir })).toBe(
      join(globalHub, 'dist', 'index.js'),
    )
  })

  it('uses main when the package has no exports, and resolves subpaths', async () => {
    const pkgDir = await fakeHub(root, 'legacy', 'legacy-hub', { main: './dist/index.js' })
    const search = { cwd: root, cliDir: root }
    expect(resolveHubModule('legacy-hub', search)).toBe(join(pkgDir, 'dist', 'index.js'))
    expect(resolveHubModule('legacy-hub/dist/index.js', search)).toBe(
      join(pkgDir, 'dist', 'index.js'),
    )
  })

  it('returns undefined when the package is nowhere, and the path for a file specifier', async () => {
    expect(resolveHubModule('@core/hub', { cwd: root, cliDir: root })).toBeUndefined()
    expect(resolveHubModule('./hub.js', { cwd: root })).toBe(join(root, 'hub.js'))
  })

  it('refuses with E_UNAVAILABLE when the exports do not export the entry', async () => {
    await fakeHub(root, 'x', '@core/hub', { exports: { './other': './dist/index.js' } })
    const error = (() => {
      try {
        return resolveHubModule('@core/hub', { cwd: root, cliDir: root })
      } catch (e) {
        return e
      }
    })()
    expect(CoreError.is(error) && error.code).toBe('E_UNAVAILABLE')
    expect(String((error as Error).message)).toContain('"exports" has no "." entry')
  })
})

describe('startHubFromModule without CORE_HUB_MODULE', () => {
  it("runs the runHub of the project's @core/hub, passing the options", async () => {
    await fakeHub(root, 'project')
    const result = await startHubFromModule(
      { config: 'hub.yaml' },
      {},
      { cwd: root, cliDir: join(root, 'nowhere') },
    )
    expect(result).toEqual({ hub: 'project', options: { config: 'hub.yaml' } })
  })

  it('says what to install when no @core/hub is found anywhere', async () => {
    const error = await refusal(() => startHubFromModule({}, {}, { cwd: root, cliDir: root }))
    expect(error.code).toBe('E_UNAVAILABLE')
    expect(error.message).toContain('npm i @core/hub')
    expect(error.message).toContain('npx @core/hub start')
    expect(error.message).toContain(HUB_INSTALL_HINT)
    expect(error.message).toContain(root)
  })

  it('refuses a named CORE_HUB_MODULE that is nowhere with E_UNAVAILABLE naming it', async () => {
    const error = await refusal(() =>
      startHubFromModule({}, { CORE_HUB_MODULE: '@acme/hub' }, { cwd: root, cliDir: root }),
    )
    expect(error.code).toBe('E_UNAVAILABLE')
    expect(error.message).toContain('"@acme/hub" (CORE_HUB_MODULE) cannot be loaded')
    expect(error.details).toEqual({ module: '@acme/hub' })
  })
})
