import { threadId } from 'node:worker_threads'
import { describe, expect, it } from 'vitest'
import { createMockHub } from '../src/index.js'

const folder = new URL('./fixtures/worker-greeter/', import.meta.url)

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
})
