import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as sqlite from '@core/storage-sqlite'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { loadHubConfig } from '../../src/config.js'
import { describeStorage, openStorage } from '../../src/storage-select.js'

vi.mock('@core/storage-sqlite', async (importOriginal) => {
  const original = await importOriginal<typeof sqlite>()
  return { ...original, createSqliteAdapter: vi.fn(original.createSqliteAdapter) }
})

let dir: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hub-sync-'))
})
afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('issue 8: the hub config can choose SQLite synchronous FULL', () => {
  it('reads sqlite.synchronous from the file, CORE_SQLITE_SYNCHRONOUS overrides it', async () => {
    const base = { cwd: dir, appDir: dir }
    expect((await loadHubConfig({ env: {}, ...base })).storage).toMatchObject({
      synchronous: 'NORMAL',
    })
    await writeFile(
      join(dir, 'hub.config.json'),
      JSON.stringify({ sqlite: { synchronous: 'FULL' } }),
    )
    const fromFile = await loadHubConfig({ env: {}, ...base })
    expect(fromFile.storage).toMatchObject({ kind: 'sqlite', synchronous: 'FULL' })
    expect(fromFile.origin.sqliteSynchronous).toBe('file')
    expect(describeStorage(fromFile.storage)).toContain('synchronous FULL')
    const fromEnv = await loadHubConfig({ env: { CORE_SQLITE_SYNCHRONOUS: 'normal' }, ...base })
    expect(fromEnv.storage).toMatchObject({ synchronous: 'NORMAL' })
    expect(fromEnv.origin.sqliteSynchronous).toBe('env')
    await expect(
      loadHubConfig({ env: { CORE_SQLITE_SYNCHRONOUS: 'OFF' }, ...base }),
    ).rejects.toThrow('CORE_SQLITE_SYNCHRONOUS must be NORMAL or FULL')
  })

  it('opens the SQLite adapter with the chosen setting', async () => {
    await writeFile(
      join(dir, 'hub.config.json'),
      JSON.stringify({ sqlite: { synchronous: 'FULL' } }),
    )
    const config = await loadHubConfig({
      env: { CORE_DATA_DIR: join(dir, 'data') },
      cwd: dir,
      appDir: dir,
    })
    const storage = await openStorage(config.storage)
    await storage.close()
    expect(vi.mocked(sqlite.createSqliteAdapter)).toHaveBeenCalledWith(
      expect.objectContaining({ synchronous: 'FULL' }),
    )
  })
})
