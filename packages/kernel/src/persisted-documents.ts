import { createHash } from 'node:crypto'
import {
  CoreError,
  deepFreeze,
  type JsonValue,
  type Logger,
  type StateEntry,
} from '@core/contracts'
import type { Storage } from '@core/storage'
import type { PersistentStateRestoreReport } from './persistent-state-types.js'

/** Most documents read per page on restore (`MAX_LIMIT` of `@core/storage`). */
export const PAGE = 1000

// How persisted state is laid out in storage: one document per key in the reserved `core`
// namespace, plus the revision mark of removals.

/**
 * The storage namespace persisted state lives in: `core`, a name no plugin may take (the
 * kernel reserves it), so no plugin's own documents can collide with it.
 * @public
 */
export const PERSISTED_STATE_STORAGE_NAMESPACE = 'core'

/** Storage key of the document that records the highest revision a removal took. @internal */
export const REVISION_KEY = 'state.#revision'
/** Longest storage key (`MAX_KEY_LENGTH` of `@core/storage`), in code points; state keys are ASCII. */
const MAX_STORAGE_KEY = 128
/**
 * One persisted state entry as stored in `core`/`state.<namespace>.<key>`: the entry with
 * its revision and times, plus its namespace and key (the storage key of a long key is a
 * hash, so the key itself is kept here).
 * @public
 */
export interface PersistedStateDocument {
  /** The state namespace. */
  namespace: string
  /** The state key. */
  key: string
  /** The JSON value. */
  value: JsonValue
  /** The entry's revision (store-wide counter), >= 1. */
  revision: number
  /** Epoch ms of the write. */
  updatedAt: number
  /** Epoch ms the entry expires at; absent = no TTL. */
  expiresAt?: number
}

/**
 * The storage key (in {@link PERSISTED_STATE_STORAGE_NAMESPACE}) of a persisted state key:
 * `state.<namespace>.<key>`, or, when that exceeds the 128 characters of a storage key,
 * `state.<namespace>.#<base64url SHA-256 of key>` (a state key never holds `#`, so the two
 * forms never collide; the document keeps the key itself).
 *
 * @param namespace - A state namespace.
 * @param key - A state key.
 * @returns The storage key.
 * @example
 * ```ts
 * persistedStateKey('lights', 'kitchen.main') // 'state.lights.kitchen.main'
 * ```
 * @public
 */
export function persistedStateKey(namespace: string, key: string): string {
  const plain = `state.${namespace}.${key}`
  if (plain.length <= MAX_STORAGE_KEY) return plain
  return `state.${namespace}.#${createHash('sha256').update(key).digest('base64url')}`
}

/** The revision recorded in the `state.#revision` document, 0 when none (or unreadable). @internal */
export function markOf(doc: JsonValue | undefined): number {
  const revision =
    typeof doc === 'object' && doc !== null && !Array.isArray(doc) ? doc.revision : undefined
  return typeof revision === 'number' && Number.isSafeInteger(revision) ? revision : 0
}

/** A stored document as an entry (deep-frozen), or `undefined` when it is not one of ours. @internal */
export function readDocument(
  doc: JsonValue,
  namespace: string,
  storageKey: string,
): PersistedStateDocument | undefined {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return undefined
  const { key, revision, updatedAt, expiresAt } = doc
  if (
    typeof key !== 'string' ||
    doc.namespace !== namespace ||
    !('value' in doc) ||
    persistedStateKey(namespace, key) !== storageKey ||
    typeof revision !== 'number' ||
    !Number.isSafeInteger(revision) ||
    revision < 1 ||
    typeof updatedAt !== 'number' ||
    !Number.isFinite(updatedAt) ||
    (expiresAt !== undefined && (typeof expiresAt !== 'number' || !Number.isFinite(expiresAt)))
  ) {
    return undefined
  }
  const out: PersistedStateDocument = {
    namespace,
    key,
    value: doc.value as JsonValue,
    revision,
    updatedAt,
  }
  if (expiresAt !== undefined) out.expiresAt = expiresAt
  return out
}

/** The state entry of a stored document (frozen). @internal */
export function toEntry(doc: PersistedStateDocument): StateEntry {
  const value = doc.value
  deepFreeze(value)
  return Object.freeze(
    doc.expiresAt === undefined
      ? { value, revision: doc.revision, updatedAt: doc.updatedAt }
      : { value, revision: doc.revision, updatedAt: doc.updatedAt, expiresAt: doc.expiresAt },
  )
}

/** What {@link readPersisted} read: entries by namespace, expired keys, the highest revision. @internal */
export interface PersistedRead {
  report: PersistentStateRestoreReport
  staged: Map<string, Map<string, StateEntry>>
  /** Storage keys of documents already expired at `now` (to remove). */
  stale: string[]
  /** The highest revision any document or the removal mark holds. */
  highest: number
}

/**
 * Reads the documents of `namespaces` (in key order, page by page), skipping unreadable ones
 * (logged) and setting aside those expired at `now`.
 * @throws {@link @core/contracts!CoreError} `E_STORAGE` when storage cannot be read.
 * @internal
 */
export async function readPersisted(
  storage: Storage,
  namespaces: readonly string[],
  now: number,
  logger: Logger,
): Promise<PersistedRead> {
  const CORE = PERSISTED_STATE_STORAGE_NAMESPACE
  const report: PersistentStateRestoreReport = {
    namespaces: {},
    restored: 0,
    dropped: 0,
    skipped: 0,
    revision: 0,
  }
  const staged = new Map<string, Map<string, StateEntry>>()
  const stale: string[] = []
  let highest = 0
  try {
    highest = markOf(await storage.get(CORE, REVISION_KEY))
    for (const namespace of namespaces) {
      const map = new Map<string, StateEntry>()
      const documents = storage.iterate(CORE, { prefix: `state.${namespace}.`, pageSize: PAGE })
      for await (const { key: storageKey, value } of documents) {
        const doc = readDocument(value, namespace, storageKey)
        if (doc === undefined) {
          report.skipped++
          logger.warn(
            { namespace, storageNamespace: CORE, storageKey },
            'persistent-state: a stored state document is unreadable; it was skipped',
          )
          continue
        }
        highest = Math.max(highest, doc.revision)
        if (doc.expiresAt !== undefined && doc.expiresAt <= now) {
          report.dropped++
          stale.push(storageKey)
          continue
        }
        map.set(doc.key, toEntry(doc))
      }
      staged.set(namespace, map)
      report.namespaces[namespace] = map.size
      report.restored += map.size
    }
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error)
    throw new CoreError(
      'E_STORAGE',
      `Could not restore the persisted state namespaces (${namespaces.join(', ')}) from storage ("${CORE}"/"state.*"): ${reason}; check the storage and start again`,
      { cause: error, details: { namespaces: [...namespaces], storageNamespace: CORE } },
    )
  }
  return { report, staged, stale, highest }
}
