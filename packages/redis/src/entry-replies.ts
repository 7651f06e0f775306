import {
  CoreError,
  type StateChange,
  type StateChangeReason,
  type StateEntry,
} from '@core/contracts'
import type { OwnChange } from './change-order.js'
import { parse, type StateKeys } from './change-stream.js'

/**
 * What the state backend reads back from Redis: entry hashes and write-script replies, turned
 * into entries and changes. Pure functions.
 * @internal
 */

/** A write script's reply: `[ok, actual, revision, expiredRevision, priorRevision, previousJson?]`. @internal */
export type ScriptReply = [number, number, number?, number?, number?, (string | null)?]

/**
 * The entry of an `HMGET key v r u e` reply.
 * @throws {@link @core/contracts!CoreError} `E_STORAGE` naming the Redis key when it is not a
 *   state entry or its value is not JSON (something else wrote under the prefix).
 * @internal
 */
export function entryOf(
  keys: StateKeys,
  reply: (string | null)[],
  namespace: string,
  key: string,
): StateEntry {
  const [v, r, u, e] = reply
  const revision = Number(r)
  const redisKey = keys.entry(namespace, key)
  if (v === null || v === undefined || !Number.isSafeInteger(revision) || revision < 1) {
    throw new CoreError(
      'E_STORAGE',
      `Redis key "${redisKey}" is not a state entry (a hash with fields v, r, u); something else wrote under the prefix: delete the key or choose another keyPrefix`,
      { details: { redisKey, namespace, key } },
    )
  }
  const parsed = parse(v)
  if (parsed === undefined) {
    throw new CoreError(
      'E_STORAGE',
      `Redis key "${redisKey}" holds a value that is not JSON; something else wrote under the prefix: delete the key or choose another keyPrefix`,
      { details: { redisKey, namespace, key } },
    )
  }
  const entry: StateEntry = { value: parsed.json, revision, updatedAt: Number(u) }
  if (e !== null && e !== undefined) entry.expiresAt = Number(e)
  return entry
}

/**
 * The changes of a script reply, each with the revision of the key's change before it: an
 * `expired` sweep first, then the call's own change.
 * @internal
 */
export function changesOf(
  reply: ScriptReply,
  namespace: string,
  key: string,
  own: StateChangeReason | undefined,
  newValue?: unknown,
): OwnChange[] {
  const [, actual, revision = 0, expired = 0, prior = 0, previousText] = reply
  // The write is committed: a previous value that is not JSON (written by someone else) is
  // left out of the change rather than failing the call.
  const previous =
    previousText === null || previousText === undefined ? undefined : parse(previousText)
  const out: OwnChange[] = []
  if (expired > 0) {
    const change: StateChange = { namespace, key, revision: expired, reason: 'expired' }
    if (previous !== undefined) change.previous = previous.json
    out.push({ change, prior })
  }
  if (own !== undefined && revision > 0) {
    const change: StateChange = { namespace, key, revision, reason: own }
    if (own === 'set') change.value = newValue
    if (actual > 0 && previous !== undefined) change.previous = previous.json
    out.push({ change, prior: expired > 0 ? expired : prior })
  }
  return out
}

/** The plain changes of {@link changesOf}'s result. @internal */
export function plain(own: OwnChange[]): StateChange[] {
  return own.map((item) => item.change)
}

/**
 * An option that must be a whole number of at least `min`, else `fallback` when absent.
 * @throws {@link @core/contracts!CoreError} `E_VALIDATION` naming the option.
 * @internal
 */
export function whole(value: unknown, fallback: number, option: string, min: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new CoreError('E_VALIDATION', `${option} must be a whole number, at least ${min}`, {
      details: { option, value },
    })
  }
  return value
}
