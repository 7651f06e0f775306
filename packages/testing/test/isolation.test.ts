import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { threadId } from 'node:worker_threads'
import { describe, expect, it } from 'vitest'
import { createMockHub } from '../src/index.js'

const folder = new URL('./fixtures/worker-greeter/', import.meta.url)
const processFolder = new URL('./fixtures/process-greeter/', import.meta.url)

describe('mock hub: isolation levels', () => {
  it('runs a package whose manifest says "worker" in a worker, as the hub does', async () => {
    const hub = await createMockHub({ plugins: [folder] })
    const out = (await hub.call('wgreeter.greet', { who: 'Ada' })) as {
      text: string
      thread: number
    }
    expect(out.text).toBe('Hello, Ada!')
    expect(out.thread).not.toBe(threadId)
    await hub.expectEvent('wgreeter.greeted', { where: { who: 'Ada' } })
    expect(hub.calls('wgreeter.greet')).toHaveLength(1)
    await hub.stop()
  })

  it('runs the same package inline when asked to', async () => {
    const hub = await createMockHub({ plugins: [{ packageDir: folder, isolation: 'inline' }] })
    const out = (await hub.call('wgreeter.greet', { who: 'Bo' })) as { thread: number }
    expect(out.thread).toBe(threadId)
    expect(hub.as('wgreeter').ctx.manifest.isolation).toBe('inline')
    await hub.stop()
  })

  it('runs a package whose manifest says "process" in a child process, its data folder removed by stop()', {
    timeout: 60_000,
  }, async () => {
    const hub = await createMockHub({ plugins: [processFolder], lifecycleTimeoutMs: 30_000 })
    const out = (await hub.call('pgreeter.greet', { who: 'Cy' }, { timeoutMs: 30_000 })) as {
      text: string
      pid: number
      dataDir: string
    }
    expect(out.text).toBe('Hello, Cy!')
    expect(await readFile(join(out.dataDir, 'last.txt'), 'utf8')).toBe('Cy')
    expect(out.pid).not.toBe(process.pid)
    await hub.expectEvent('pgreeter.greeted', { where: { who: 'Cy' } })
    expect(hub.calls('pgreeter.greet')).toHaveLength(1)
    await hub.stop()
    expect(() => process.kill(out.pid, 0)).toThrow()
    await expect(stat(out.dataDir)).rejects.toMatchObject({ code: 'ENOENT' })
  })
})
