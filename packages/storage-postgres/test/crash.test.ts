/**
 * "Nothing lost" (issue 4, §7) for PostgreSQL: the server connection cut in the middle of a
 * transaction, and the client process killed with SIGKILL in a write loop or inside a
 * transaction. Committed data stays, uncommitted data never appears.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { CoreError } from '@core/contracts'
import type { StorageAdapter, StorageAdapterTransaction } from '@core/storage'
import { afterEach, expect, it } from 'vitest'
import { createPostgresAdapter } from '../src/index.js'
import { adminSql, describeWithServer, freshSchema, TEST_URL } from './postgres-server.js'

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url))
const writer = fileURLToPath(new URL('./fixtures/crash-writer.ts', import.meta.url))

const committed = Array.from({ length: 100 }, (_, i) => ({
  op: 'set' as const,
  key: `committed.${String(i).padStart(3, '0')}`,
  json: JSON.stringify({ i, text: `original ${i}` }),
}))

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void
  const promise = new Promise<void>((r) => {
    resolve = r
  })
  return { promise, resolve }
}

/** Backends of this schema's adapter that sit in an open transaction. */
async function openTransactions(schema: string): Promise<number[]> {
  const rows = await adminSql()<{ pid: number }[]>`
    select pid from pg_stat_activity
    where application_name = 'core-storage-postgres' and state like 'idle in transaction%'
      and query like ${`%"${schema}".%`}`
  return rows.map((r) => r.pid)
}

/** Waits until the server no longer shows an open transaction of this schema. */
async function untilNoOpenTransaction(schema: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if ((await openTransactions(schema)).length === 0) return
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  throw new Error(`a transaction of schema ${schema} is still open on the server`)
}

/** Checks, through a fresh adapter, that the committed documents are exactly as written. */
async function expectCommittedIntact(check: StorageAdapter): Promise<void> {
  expect(await check.count('crash', 'committed.')).toBe(committed.length)
  const rows = await check.list('crash', { prefix: 'committed.', limit: 1000 })
  expect(rows.map((r) => [r.key, JSON.parse(r.json)])).toEqual(
    committed.map((c) => [c.key, JSON.parse(c.json)]),
  )
  expect(await check.count('crash', 'partial.')).toBe(0)
}

function startWriter(mode: 'loop' | 'transaction', schema: string): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', writer, mode, TEST_URL, schema], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
}

/** Resolves with the child's stdout lines once `enough` says so; rejects if it exits first. */
function readUntil(child: ChildProcess, enough: (lines: string[]) => boolean): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const lines: string[] = []
    let partial = ''
    let stderr = ''
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    child.stdout?.on('data', (chunk: Buffer) => {
      const parts = (partial + chunk.toString()).split('\n')
      partial = parts.pop() ?? ''
      lines.push(...parts)
      if (enough(lines)) resolve(lines)
    })
    child.once('exit', (code, signal) => {
      if (signal === null) reject(new Error(`writer exited early (${code}): ${stderr}`))
    })
  })
}

/** SIGKILLs the child; resolves once it exited and all it printed has been read. */
function kill(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    child.once('close', () => resolve())
    child.kill('SIGKILL')
  })
}

describeWithServer('nothing lost on PostgreSQL', () => {
  const open: StorageAdapter[] = []
  const children: ChildProcess[] = []
  const make = async (schema: string): Promise<StorageAdapter> => {
    const adapter = await createPostgresAdapter({ url: TEST_URL, schema, max: 2 })
    open.push(adapter)
    return adapter
  }
  afterEach(async () => {
    await Promise.all(children.splice(0).map(kill))
    await Promise.all(open.splice(0).map((a) => a.close()))
  })

  it('leaves no partial writes and committed data intact when the server cuts the connection mid-transaction', async () => {
    const schema = freshSchema()
    const adapter = await make(schema)
    await adapter.batch('crash', committed)
    const inside = deferred()
    const release = deferred()
    const late = deferred()
    let lateError: unknown
    const transaction = adapter.transaction(async (tx) => {
      await tx.batch(
        'crash',
        Array.from({ length: 50 }, (_, i) => ({
          op: 'set' as const,
          key: `partial.${i}`,
          json: '1',
        })),
      )
      await tx.set('crash', 'committed.000', '"overwritten"')
      await tx.delete('crash', 'committed.001')
      inside.resolve()
      await release.promise
      try {
        await tx.set('crash', 'partial.after', '1')
      } catch (error) {
        lateError = error
        throw error
      } finally {
        late.resolve()
      }
    })
    const outcome = transaction.then(
      () => undefined,
      (error: unknown) => error,
    )
    await inside.promise
    const pids = await openTransactions(schema)
    expect(pids).toHaveLength(1)
    await adminSql()`select pg_terminate_backend(${pids[0] ?? 0})`
    const error = await outcome
    expect(CoreError.is(error, 'E_STORAGE')).toBe(true)
    expect((error as CoreError).message).toMatch(/closed the connection/)
    // The function, still running, is refused from then on (never handed to the dead socket).
    release.resolve()
    await late.promise
    expect(CoreError.is(lateError, 'E_STORAGE')).toBe(true)
    expect((lateError as CoreError).message).toMatch(/transaction already ended/)
    await untilNoOpenTransaction(schema)
    await expectCommittedIntact(await make(schema))
    // The same adapter goes on with a new connection.
    expect(JSON.parse((await adapter.get('crash', 'committed.000')) ?? 'null')).toEqual({
      i: 0,
      text: 'original 0',
    })
    await adapter.set('crash', 'later', '1')
    expect(await adapter.get('crash', 'later')).toBe('1')
  })

  it('rejects at once and keeps nothing when the connection is cut inside a nested transaction', async () => {
    const schema = freshSchema()
    const adapter = await make(schema)
    await adapter.batch('crash', committed)
    const inside = deferred()
    const release = deferred()
    const outcome = adapter
      .transaction(async (tx) => {
        await tx.set('crash', 'partial.outer', '1')
        await tx.transaction(async (nested) => {
          await nested.set('crash', 'partial.nested', '1')
          inside.resolve()
          await release.promise
          await nested.set('crash', 'partial.nested-after', '1')
        })
        await tx.set('crash', 'partial.outer-after', '1')
      })
      .then(
        () => undefined,
        (error: unknown) => error,
      )
    await inside.promise
    const pids = await openTransactions(schema)
    expect(pids).toHaveLength(1)
    await adminSql()`select pg_terminate_backend(${pids[0] ?? 0})`
    expect(CoreError.is(await outcome, 'E_STORAGE')).toBe(true)
    release.resolve()
    await untilNoOpenTransaction(schema)
    await expectCommittedIntact(adapter)
  })

  const blockedWrites: Record<string, (tx: StorageAdapterTransaction) => Promise<unknown>> = {
    'a batch inside a transaction': (tx) =>
      tx.batch('crash', [
        { op: 'set', key: 'partial.in-batch', json: '1' },
        { op: 'set', key: 'committed.050', json: '"overwritten"' },
      ]),
    'a write inside a nested transaction': (tx) =>
      tx.transaction(async (nested) => {
        await nested.set('crash', 'partial.nested', '1')
        await nested.set('crash', 'committed.050', '"overwritten"')
      }),
  }
  for (const [what, blockedWrite] of Object.entries(blockedWrites)) {
    it(`rejects and keeps nothing when the connection is cut while ${what} runs`, async () => {
      const schema = freshSchema()
      const adapter = await make(schema)
      await adapter.batch('crash', committed)
      // Another session holds a row lock, so the batch's statement is still running when cut.
      const blocker = await adminSql().reserve()
      try {
        await blocker.unsafe('begin')
        await blocker.unsafe(
          `select 1 from "${schema}".core_documents where key = 'committed.050' for update`,
        )
        const outcome = adapter
          .transaction(async (tx) => {
            await tx.set('crash', 'partial.before', '1')
            await blockedWrite(tx)
            await tx.set('crash', 'partial.after', '1')
          })
          .then(
            () => undefined,
            (error: unknown) => error,
          )
        let pid: number | undefined
        for (let i = 0; i < 200 && pid === undefined; i++) {
          const rows = await adminSql()<{ pid: number }[]>`
          select pid from pg_stat_activity
          where application_name = 'core-storage-postgres' and wait_event_type = 'Lock'
            and query like ${`%"${schema}".%`}`
          pid = rows[0]?.pid
          if (pid === undefined) await new Promise((resolve) => setTimeout(resolve, 25))
        }
        expect(pid).toBeDefined()
        await adminSql()`select pg_terminate_backend(${pid ?? 0})`
        const error = await outcome
        expect(CoreError.is(error, 'E_STORAGE')).toBe(true)
      } finally {
        await blocker.unsafe('rollback')
        blocker.release()
      }
      await untilNoOpenTransaction(schema)
      await expectCommittedIntact(adapter)
    })
  }

  it('leaves no partial writes when the process holding a transaction is killed with SIGKILL', async () => {
    const schema = freshSchema()
    const adapter = await make(schema)
    await adapter.batch('crash', committed)
    const child = startWriter('transaction', schema)
    children.push(child)
    await readUntil(child, (lines) => lines.includes('in-transaction'))
    expect(await openTransactions(schema)).toHaveLength(1)
    await kill(child)
    await untilNoOpenTransaction(schema)
    await expectCommittedIntact(adapter)
  })

  it('keeps every acknowledged write of a process killed with SIGKILL in a write loop', async () => {
    const schema = freshSchema()
    const adapter = await make(schema)
    await adapter.batch('crash', committed)
    const child = startWriter('loop', schema)
    children.push(child)
    // `lines` keeps filling until the child's output is drained, which kill() waits for.
    const lines = await readUntil(child, (l) => l.length >= 300)
    await kill(child)
    const acked = lines.filter((l) => l.startsWith('ack ')).map((l) => Number(l.slice(4)))
    expect(acked.length).toBeGreaterThanOrEqual(300)
    const stored = await adapter.list('crash', { prefix: 'ack.', limit: 100_000 })
    const storedIds = new Set(stored.map((r) => Number(r.key.slice(4))))
    for (const i of acked) expect(storedIds.has(i)).toBe(true)
    // At most the one write in flight at the kill is stored without its acknowledgement.
    expect(storedIds.size - acked.length).toBeLessThanOrEqual(1)
    for (const row of stored)
      expect(JSON.parse(row.json)).toEqual({ i: Number(row.key.slice(4)), pad: 'x'.repeat(100) })
    await expectCommittedIntact(adapter)
  })
})
