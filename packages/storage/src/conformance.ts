/// <reference types="node" preserve="true" />
/**
 * The conformance suite of `@core/storage`, for authors of backends and adapters (vitest, an
 * optional peer dependency).
 *
 * @module @core/storage/conformance
 */
import { afterEach, beforeEach, describe } from 'vitest'
import type { StorageAdapter } from './adapter.js'
import { badInputSuite } from './conformance/bad-input.js'
import { batchSuite } from './conformance/batch.js'
import { closeSuite } from './conformance/close.js'
import { concurrencySuite } from './conformance/concurrency.js'
import { crudSuite } from './conformance/crud.js'
import type { ConformanceHarness } from './conformance/harness.js'
import { iterateSuite } from './conformance/iterate.js'
import { listSuite } from './conformance/list.js'
import { migrationsSuite } from './conformance/migrations.js'
import { querySuite } from './conformance/query.js'
import { transactionsSuite } from './conformance/transactions.js'
import { valuesSuite } from './conformance/values.js'
import { createStorage } from './storage.js'
import type { Storage } from './types.js'

/** Options of {@link runStorageConformance}. @public */
export interface StorageConformanceOptions {
  /** Shown in the suite's name, e.g. `sqlite`. @defaultValue the adapter's `name` */
  name?: string
}

/**
 * Registers the storage conformance suite (vitest `describe`/`it`) for an adapter: CRUD,
 * list and cursors, iterate, query operators, batch atomicity, transactions (rollback and nesting),
 * concurrent writers, unicode and large values, bad input, schema versions and plugin
 * migrations, close. It tests through `createStorage(adapter)`, so the validation layer runs
 * too. Every adapter runs it unchanged: there is no way to skip a test.
 *
 * Each test gets a fresh adapter from `makeAdapter` and closes it afterwards, so the adapter
 * must start empty (e.g. `:memory:`, or a new PostgreSQL schema per call).
 *
 * @param makeAdapter - Creates a fresh, empty, ready adapter.
 * @param options - `name` for the suite title.
 * @see CONVENTIONS.md §9 (one conformance suite for all adapters)
 * @example
 * ```ts
 * // packages/storage-sqlite/test/conformance.test.ts
 * import { runStorageConformance } from '@core/storage/conformance'
 * import { createSqliteAdapter } from '../src/index.js'
 * runStorageConformance(() => createSqliteAdapter({ filename: ':memory:' }), { name: 'sqlite' })
 * ```
 * @public
 */
export function runStorageConformance(
  makeAdapter: () => Promise<StorageAdapter>,
  options: StorageConformanceOptions = {},
): void {
  describe(`storage conformance: ${options.name ?? 'adapter'}`, () => {
    let storage: Storage | undefined
    beforeEach(async () => {
      storage = createStorage(await makeAdapter())
    })
    afterEach(async () => {
      await storage?.close()
      storage = undefined
    })
    const harness: ConformanceHarness = {
      get storage(): Storage {
        if (storage === undefined)
          throw new Error('The conformance storage exists only inside a test')
        return storage
      },
    }
    crudSuite(harness)
    listSuite(harness)
    iterateSuite(harness)
    querySuite(harness)
    batchSuite(harness)
    transactionsSuite(harness)
    concurrencySuite(harness)
    valuesSuite(harness)
    badInputSuite(harness)
    migrationsSuite(harness)
    closeSuite(harness)
  })
}
