import { assertNamespace, CoreError } from '@core/contracts'
import type { MigrationStep, StorageOps } from './types.js'

/** Options of {@link runPluginMigrations}. @public */
export interface RunPluginMigrationsOptions {
  /** The plugin's data version: its manifest's `storage.version`, an integer >= 0. */
  version: number
  /**
   * The plugin's `migrations` export: `{ [toVersion]: async (tx) => … }`. Keys are integers
   * 1..`version`; a version without a step just has nothing to change. `tx` is bound to the
   * plugin's namespace and part of the one migration transaction.
   */
  migrations?: Readonly<Record<number, MigrationStep>>
}

/** What {@link runPluginMigrations} did. @public */
export interface PluginMigrationResult {
  namespace: string
  /** The version recorded before (0 when none). */
  from: number
  /** The version recorded now. */
  to: number
  /** The step versions that ran, in order. */
  applied: number[]
}

/**
 * Brings a plugin's stored data up to the version its manifest declares: runs every step whose
 * version is above the recorded one and at most `version`, in ascending order, in one
 * transaction, then records `version`. The kernel calls it before the plugin's `setup`.
 *
 * - Recorded version equal to `version`: nothing runs (no transaction is opened).
 * - Recorded version newer than `version` (the plugin was downgraded): `E_STORAGE`, and no data
 *   is touched.
 * - A step that throws: the whole migration rolls back (data and version as before) and
 *   `E_STORAGE` is thrown with the step's error as `cause`.
 * - Two processes migrating one namespace at once run one after the other (the adapter locks
 *   the namespace's version record inside the transaction); the second finds nothing to do.
 *
 * @param storage - The storage (or a transaction handle, to join a larger transaction).
 * @param namespace - The plugin's namespace.
 * @param options - `version` and `migrations`.
 * @returns What ran: `{ namespace, from, to, applied }`.
 * @throws {@link @core/contracts!CoreError} `E_VALIDATION` for a bad namespace, version, or migrations object
 *   (a key that is not an integer 1..version, a step that is not a function).
 * @throws {@link @core/contracts!CoreError} `E_STORAGE` when the plugin was downgraded, a step failed, or the
 *   storage failed.
 * @example
 * ```ts
 * await runPluginMigrations(storage, 'lights', {
 *   version: 2,
 *   migrations: {
 *     1: async (tx) => tx.set('settings', { dim: false }),
 *     2: async (tx) => {
 *       const s = (await tx.get<{ dim: boolean }>('settings')) ?? { dim: false }
 *       await tx.set('settings', { ...s, fadeMs: 300 })
 *     },
 *   },
 * })
 * ```
 * @public
 */
export async function runPluginMigrations(
  storage: StorageOps,
  namespace: string,
  options: RunPluginMigrationsOptions,
): Promise<PluginMigrationResult> {
  assertNamespace(namespace, 'storage namespace')
  const version = options?.version
  if (!Number.isSafeInteger(version) || version < 0) {
    throw new CoreError(
      'E_VALIDATION',
      `Invalid storage version ${String(version)} for plugin "${namespace}": the manifest's storage.version is an integer >= 0`,
      { details: { namespace, version } },
    )
  }
  const steps = checkSteps(namespace, version, options.migrations ?? {})
  const recorded = await storage.schemaVersion(namespace)
  if (recorded === version) return { namespace, from: recorded, to: version, applied: [] }
  return storage.transaction(async (tx) => {
    const from = await tx.schemaVersion(namespace)
    if (from > version) {
      throw new CoreError(
        'E_STORAGE',
        `Plugin "${namespace}" was downgraded: its stored data is at version ${from}, the plugin declares storage.version ${version}; install a version that supports data version ${from} or restore a backup (no data was changed)`,
        { details: { namespace, stored: from, declared: version } },
      )
    }
    const applied: number[] = []
    const bound = tx.forNamespace(namespace)
    for (const [to, step] of steps) {
      if (to <= from) continue
      try {
        await step(bound)
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error)
        throw new CoreError(
          'E_STORAGE',
          `Migration of plugin "${namespace}" data to version ${to} failed, nothing was changed (still at version ${from}): ${reason}`,
          { cause: error, details: { namespace, from, to } },
        )
      }
      applied.push(to)
    }
    if (from !== version) await tx.setSchemaVersion(namespace, version)
    return { namespace, from, to: version, applied }
  })
}

function checkSteps(
  namespace: string,
  version: number,
  migrations: Readonly<Record<number, MigrationStep>>,
): [number, MigrationStep][] {
  if (typeof migrations !== 'object' || migrations === null || Array.isArray(migrations)) {
    throw new CoreError(
      'E_VALIDATION',
      `Invalid migrations of plugin "${namespace}": export an object { [toVersion]: async (tx) => … }`,
      { details: { namespace } },
    )
  }
  const steps: [number, MigrationStep][] = []
  for (const [text, step] of Object.entries(migrations)) {
    const to = Number(text)
    if (!/^[1-9][0-9]*$/.test(text) || to > version) {
      throw new CoreError(
        'E_VALIDATION',
        `Invalid migration key "${text}" of plugin "${namespace}": keys are integer versions from 1 to the declared storage.version ${version}`,
        { details: { namespace, key: text, version } },
      )
    }
    if (typeof step !== 'function') {
      throw new CoreError(
        'E_VALIDATION',
        `Migration to version ${to} of plugin "${namespace}" is not a function: use async (tx) => …`,
        { details: { namespace, to } },
      )
    }
    steps.push([to, step])
  }
  return steps.sort((a, b) => a[0] - b[0])
}
