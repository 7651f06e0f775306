import type { StateChange } from '@core/contracts'
import { createMemoryAdapter, type StorageAdapter } from '@core/storage'
import { type Kernel, PERSISTED_STATE_STORAGE_NAMESPACE } from '../src/index.js'

export const CORE = PERSISTED_STATE_STORAGE_NAMESPACE

/** A storage adapter over the memory adapter whose writes (or reads) fail while told to. */
export function flakyAdapter(inner: StorageAdapter = createMemoryAdapter()): {
  adapter: StorageAdapter
  fault: { writes: boolean; reads: boolean }
} {
  const fault = { writes: false, reads: false }
  const boom = (): Promise<never> => Promise.reject(new Error('disk full'))
  const adapter: StorageAdapter = {
    name: 'flaky',
    get: (ns, key) => (fault.reads ? boom() : inner.get(ns, key)),
    set: (ns, key, json) => (fault.writes ? boom() : inner.set(ns, key, json)),
    delete: (ns, key) => (fault.writes ? boom() : inner.delete(ns, key)),
    has: (ns, key) => (fault.reads ? boom() : inner.has(ns, key)),
    count: (ns, prefix) => (fault.reads ? boom() : inner.count(ns, prefix)),
    list: (ns, options) => (fault.reads ? boom() : inner.list(ns, options)),
    query: (ns, query) => (fault.reads ? boom() : inner.query(ns, query)),
    batch: (ns, ops) => (fault.writes ? boom() : inner.batch(ns, ops)),
    transaction: (fn) => (fault.writes ? boom() : inner.transaction(fn)),
    getSchemaVersion: (ns) => inner.getSchemaVersion(ns),
    setSchemaVersion: (ns, v) => inner.setSchemaVersion(ns, v),
    close: () => inner.close(),
  }
  return { adapter, fault }
}

/** Collects the changes of a namespace published on a kernel's bus. */
export function changesOf(kernel: Kernel, namespace: string): StateChange[] {
  const seen: StateChange[] = []
  kernel.state.watch(namespace, '#', (change) => {
    seen.push(change)
  })
  return seen
}

export const tick = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 5))
