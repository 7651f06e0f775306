import { beforeEach, describe, expect, it } from 'vitest'
import type { Storage } from '../types.js'
import { type ConformanceHarness, expectCode } from './harness.js'

/** The conformance tests of close: refusals after close, running work finishes. @internal */
export function closeSuite(h: ConformanceHarness): void {
  describe('close', () => {
    let storage: Storage
    beforeEach(() => {
      storage = h.storage
    })

    it('refuses operations after close with E_STORAGE, and closes twice without error', async () => {
      await storage.set('app', 'k', 1)
      await storage.close()
      await expectCode(() => storage.get('app', 'k'), 'E_STORAGE')
      await expectCode(() => storage.set('app', 'k', 2), 'E_STORAGE')
      await expectCode(() => storage.transaction(async () => 1), 'E_STORAGE')
      await storage.close()
    })

    it('lets a running transaction finish before closing', async () => {
      let release!: () => void
      const gate = new Promise<void>((resolve) => {
        release = resolve
      })
      const running = storage.transaction(async (tx) => {
        await gate
        await tx.set('app', 'k', 'committed')
        return 'ok'
      })
      await new Promise((resolve) => setTimeout(resolve, 5))
      const closing = storage.close()
      release()
      expect(await running).toBe('ok')
      await closing
      // Reopening is adapter-specific; what matters is that neither promise rejected.
    })
  })
}
