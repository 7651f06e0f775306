import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CoreError, silentLogger } from '@core/contracts'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { loadHubConfig } from '../../src/config.js'
import { runHub } from '../../src/run-hub.js'

let dir: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hub-admin-token-'))
})
afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('issue 8: a weak CORE_ADMIN_TOKEN is refused at start', () => {
  it('refuses 32 × "a" before anything opens, saying how to make a strong one (exit 2)', async () => {
    let err = ''
    let out = ''
    const code = await runHub({
      env: { CORE_ADMIN_TOKEN: 'a'.repeat(32), CORE_DATA_DIR: join(dir, 'data') },
      cwd: dir,
      stdout: { write: (t: string) => (out += t) },
      stderr: { write: (t: string) => (err += t) },
      logger: silentLogger,
    })
    expect(code).toBe(2)
    expect(out).toBe('')
    expect(err).toContain('CORE_ADMIN_TOKEN is too easy to guess')
    expect(err).toContain('openssl rand -hex 32')
    expect(err).toContain('core token create')
    expect(err).not.toContain('a'.repeat(32))
  })

  it('refuses long but patterned tokens and accepts a random one', async () => {
    for (const weak of ['0123456789'.repeat(4), 'admin-admin-admin-admin-admin-admin']) {
      const error = await loadHubConfig({ env: { CORE_ADMIN_TOKEN: weak }, cwd: dir, appDir: dir })
        .then(() => undefined)
        .catch((e: unknown) => e)
      expect(CoreError.is(error, 'E_VALIDATION')).toBe(true)
      expect((error as Error).message).toContain('openssl rand -hex 32')
    }
    const strong = randomBytes(32).toString('hex')
    const config = await loadHubConfig({ env: { CORE_ADMIN_TOKEN: strong }, cwd: dir, appDir: dir })
    expect(config.adminToken).toBe(strong)
  })
})
