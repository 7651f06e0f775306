import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { CoreError } from '@core/contracts'
import { describe, expect, it } from 'vitest'
import { HUB_INSTALL_HINT, startHubFromModule } from '../src/index.js'
import { calls } from './fixtures/hub-records.js'

const fixture = (name: string): string =>
  fileURLToPath(new URL(`./fixtures/${name}.ts`, import.meta.url))

async function refusal(run: () => Promise<unknown>): Promise<CoreError> {
  try {
    await run()
  } catch (error) {
    if (CoreError.is(error)) return error
    throw error
  }
  throw new Error('expected a CoreError')
}

describe('startHubFromModule', () => {
  it('imports no hub of its own: without CORE_HUB_MODULE it refuses with E_UNAVAILABLE saying what to install', async () => {
    for (const env of [{}, { CORE_HUB_MODULE: '  ' }]) {
      const err = await refusal(() => startHubFromModule({}, env))
      expect(err.code).toBe('E_UNAVAILABLE')
      expect(err.message).toContain(HUB_INSTALL_HINT)
      expect(err.message).toContain('npx @core/hub start')
      expect(err.details).toEqual({ variable: 'CORE_HUB_MODULE' })
    }
  })

  it('says which CORE_HUB_MODULE cannot be loaded and what to install', async () => {
    const err = await refusal(() =>
      startHubFromModule({}, { CORE_HUB_MODULE: '@core-test/no-such-hub' }),
    )
    expect(err.code).toBe('E_UNAVAILABLE')
    expect(err.message).toContain('"@core-test/no-such-hub" (CORE_HUB_MODULE) cannot be loaded')
    expect(err.message).toContain(HUB_INSTALL_HINT)
  })

  it('runs the runHub of the module CORE_HUB_MODULE names, passing the options and returning its result', async () => {
    const result = await startHubFromModule(
      { config: 'hub.yaml' },
      { CORE_HUB_MODULE: fixture('hub-records') },
    )
    expect(result).toBe(3)
    expect(calls.at(-1)).toEqual({ config: 'hub.yaml' })
  })

  it('finds runHub on the default export too', async () => {
    await startHubFromModule({}, { CORE_HUB_MODULE: fixture('hub-default-export') })
    expect((globalThis as Record<string, unknown>).defaultExportHubCalled).toEqual({})
  })

  it('refuses a module without runHub with E_UNAVAILABLE', async () => {
    const err = await refusal(() =>
      startHubFromModule({}, { CORE_HUB_MODULE: fixture('hub-without-run') }),
    )
    expect(err.code).toBe('E_UNAVAILABLE')
    expect(err.message).toContain('does not export runHub')
  })

  it('refuses a file that does not exist with E_UNAVAILABLE', async () => {
    const err = await refusal(() =>
      startHubFromModule({}, { CORE_HUB_MODULE: fixture('no-such-hub') }),
    )
    expect(err.code).toBe('E_UNAVAILABLE')
  })

  it('rethrows a missing dependency inside the hub module as it is, not as "hub not installed"', async () => {
    const failure = await startHubFromModule(
      {},
      { CORE_HUB_MODULE: fixture('hub-missing-dependency') },
    ).catch((error: unknown) => error)
    expect(CoreError.is(failure)).toBe(false)
    expect(String((failure as Error).message)).toContain('core-runtime-no-such-package')
  })

  it('finds the hub through package self-reference when run inside the hub package itself', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'core-cli-self-'))
    await writeFile(
      join(dir, 'package.json'),
      JSON.stringify({ name: '@test/self-hub', type: 'module', exports: './index.js' }),
    )
    await writeFile(
      join(dir, 'index.js'),
      'export const runHub = async (o) => ({ ran: true, o })\n',
    )
    const before = process.cwd()
    process.chdir(dir)
    try {
      const result = await startHubFromModule(
        { config: 'x.json' },
        { CORE_HUB_MODULE: '@test/self-hub' },
      )
      expect(result).toEqual({ ran: true, o: { config: 'x.json' } })
    } finally {
      process.chdir(before)
      await rm(dir, { recursive: true, force: true })
    }
  })
})
