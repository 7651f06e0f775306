import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createStorage } from '@core/storage'
import Database from 'better-sqlite3'
import { afterAll, describe, expect, it } from 'vitest'
import { createSqliteAdapter } from '../src/index.js'

const root = fileURLToPath(new URL('../../..', import.meta.url))
const writer = fileURLToPath(new URL('./fixtures/crash-writer.ts', import.meta.url))
const dir = mkdtempSync(join(tmpdir(), 'core-storage-crash-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

interface Run {
  acked: number[]
  mid: number | undefined
}

/** Runs the writer until `stopWhen` holds for its output, then SIGKILLs it. */
function runAndKill(
  filename: string,
  mode: 'set' | 'tx',
  sync: 'NORMAL' | 'FULL',
  stopWhen: (run: Run) => boolean,
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', writer, filename, mode, sync], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const run: Run = { acked: [], mid: undefined }
    let buffer = ''
    let stderr = ''
    let killed = false
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    child.stdout.on('data', (chunk: Buffer) => {
      buffer += chunk.toString()
      const lines = buffer.split('\n')
      buffer = lines.pop() ?? ''
      for (const line of lines) {
        const [word, id] = line.split(' ')
        if (word === 'ack') run.acked.push(Number(id))
        if (word === 'mid') run.mid = Number(id)
      }
      if (!killed && stopWhen(run)) {
        killed = true
        child.kill('SIGKILL')
      }
    })
    child.on('error', reject)
    child.on('exit', (_code, signal) => {
      // Lines already in the pipe when the kill landed were acknowledged too.
      for (const line of buffer.split('\n')) {
        const [word, id] = line.split(' ')
        if (word === 'ack') run.acked.push(Number(id))
      }
      if (signal === 'SIGKILL') resolve(run)
      else reject(new Error(`writer exited without being killed (${signal ?? _code}): ${stderr}`))
    })
  })
}

function integrityCheck(filename: string): string {
  const db = new Database(filename)
  try {
    return db.pragma('integrity_check', { simple: true }) as string
  } finally {
    db.close()
  }
}

async function allKeys(filename: string): Promise<Map<string, unknown>> {
  const storage = createStorage(await createSqliteAdapter({ filename }))
  const out = new Map<string, unknown>()
  let cursor: string | undefined
  do {
    const page = await storage.list(
      'crash',
      cursor === undefined ? { limit: 1000 } : { limit: 1000, cursor },
    )
    for (const item of page.items) out.set(item.key, item.value)
    cursor = page.cursor
  } while (cursor !== undefined)
  await storage.close()
  return out
}

describe('crash safety (SIGKILL of a writing process)', () => {
  it('keeps every acknowledged write with synchronous=FULL, and the file passes integrity_check', async () => {
    const filename = join(dir, 'full.db')
    const run = await runAndKill(filename, 'set', 'FULL', (r) => r.acked.length >= 300)
    expect(run.acked.length).toBeGreaterThanOrEqual(300)
    expect(integrityCheck(filename)).toBe('ok')
    const keys = await allKeys(filename)
    for (const i of run.acked) expect(keys.get(`rec.${i}`)).toMatchObject({ i })
    expect(integrityCheck(filename)).toBe('ok')
  })

  it('keeps every acknowledged write with synchronous=NORMAL when only the process dies', async () => {
    const filename = join(dir, 'normal.db')
    const run = await runAndKill(filename, 'set', 'NORMAL', (r) => r.acked.length >= 300)
    expect(integrityCheck(filename)).toBe('ok')
    const keys = await allKeys(filename)
    for (const i of run.acked) expect(keys.get(`rec.${i}`)).toMatchObject({ i })
  })

  it('leaves no partial writes of a transaction interrupted by the kill', async () => {
    const filename = join(dir, 'tx.db')
    const run = await runAndKill(filename, 'tx', 'FULL', (r) => r.mid !== undefined)
    expect(run.mid).toBe(30)
    expect(integrityCheck(filename)).toBe('ok')
    const keys = await allKeys(filename)
    const perTx = new Map<number, number>()
    for (const value of keys.values()) {
      const t = (value as { t: number }).t
      perTx.set(t, (perTx.get(t) ?? 0) + 1)
    }
    for (const t of run.acked) expect(perTx.get(t)).toBe(20)
    expect(perTx.has(run.mid!)).toBe(false)
    expect([...perTx.values()].every((n) => n === 20)).toBe(true)
  })
})
