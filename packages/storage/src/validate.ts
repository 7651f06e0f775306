import { CoreError, cloneJson } from '@core/contracts'
import type { AdapterQuery, JsonScalar, QueryCondition, QueryOrder } from './adapter.js'

/** Longest storage key, and longest list prefix or cursor key, in Unicode code points. @public */
export const MAX_KEY_LENGTH = 128

/** Default largest value: 1 MiB of UTF-8 JSON text. @public */
export const DEFAULT_MAX_VALUE_BYTES: number = 1024 * 1024

/** Largest page of `list` and `query`, in entries (without a `limit`, a page holds 100). @public */
export const MAX_LIMIT = 1000
const DEFAULT_LIMIT = 100
const MAX_IN_VALUES = 1000
const MAX_CONDITIONS = 32
const MAX_PATH_SEGMENTS = 16
const MAX_BATCH_OPS = 100_000

// Refused anywhere in a key: controls (NUL included), white space, unpaired surrogates,
// bidirectional overrides/isolates, "/" and "\".
const KEY_CHARS = /^[^\p{Cc}\p{White_Space}\p{Cs}\u202A-\u202E\u2066-\u2069/\\]*$/u
// Fast path: printable ASCII other than space, "/", "\\" and ".", in dot-separated segments.
const ASCII_KEY = /^(?=.{1,128}$)[!-\-0-[\]-~]+(?:\.[!-\-0-[\]-~]+)*$/
const PATH_SEGMENT = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/
// NUL or an unpaired surrogate as JSON.stringify escapes them, not preceded by an escaping "\".
const UNSTORABLE_ESCAPE = /(?<!\\)(?:\\\\)*\\u(?:0000|d[89a-f][0-9a-f]{2})/i

/**
 * Checks a storage key: 1-{@link MAX_KEY_LENGTH} Unicode code points; dot-separated segments,
 * none empty (so no leading, trailing or doubled dot, no `.` or `..`); no control characters
 * (NUL included), white space, unpaired surrogates, bidirectional control characters, `/` or
 * `\`. Letters of any script, digits, emoji and punctuation such as `_ - : @ + = ~ % , #` are fine.
 *
 * @param key - The key to check.
 * @param namespace - The namespace, for the message.
 * @throws {@link @core/contracts!CoreError} `E_VALIDATION` naming the rule broken.
 * @example
 * ```ts
 * assertStorageKey('devices.0x00158d.état') // ok
 * assertStorageKey('../x') // throws E_VALIDATION
 * ```
 * @public
 */
export function assertStorageKey(key: unknown, namespace?: string): asserts key is string {
  if (typeof key !== 'string' || key === '') {
    throw badKey(key, namespace, 'a key is a non-empty string')
  }
  if (ASCII_KEY.test(key)) return
  if (!KEY_CHARS.test(key)) {
    throw badKey(
      key,
      namespace,
      'control characters (NUL included), white space, unpaired surrogates, bidirectional controls, "/" and "\\" are not allowed',
    )
  }
  if (codePoints(key) > MAX_KEY_LENGTH) {
    throw badKey(key, namespace, `at most ${MAX_KEY_LENGTH} characters`)
  }
  if (key.startsWith('.') || key.endsWith('.') || key.includes('..')) {
    throw badKey(
      key,
      namespace,
      'dots separate non-empty segments (no leading, trailing or doubled dot)',
    )
  }
}

/** Checks a list/count prefix: like a key's characters, may be empty or end with a dot. @internal */
export function checkPrefix(prefix: unknown): string {
  if (prefix === undefined) return ''
  if (
    typeof prefix !== 'string' ||
    !KEY_CHARS.test(prefix) ||
    codePoints(prefix) > MAX_KEY_LENGTH
  ) {
    throw new CoreError(
      'E_VALIDATION',
      `Invalid prefix ${JSON.stringify(prefix)}: use the start of a key (at most ${MAX_KEY_LENGTH} characters, no control characters, white space, "/" or "\\")`,
      { details: { prefix } },
    )
  }
  return prefix
}

/** Checks a page size: an integer 1-{@link MAX_LIMIT}; absent means 100. @internal */
export function checkLimit(limit: unknown): number {
  if (limit === undefined) return DEFAULT_LIMIT
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
    throw new CoreError(
      'E_VALIDATION',
      `Invalid limit ${String(limit)}: use an integer from 1 to ${MAX_LIMIT}`,
      { details: { limit } },
    )
  }
  return limit
}

/**
 * Serialises a value to the JSON text the adapter stores: JSON values only, no U+0000 or
 * unpaired surrogate in any string, at most `maxBytes` bytes of UTF-8.
 * @internal
 */
export function serialise(
  value: unknown,
  namespace: string,
  key: string,
  maxBytes: number,
): string {
  const subject = `value of storage key "${namespace}"/"${key}"`
  // Plain JSON (the usual case) is serialised as is; anything else goes through cloneJson, which
  // refuses it with the JSON Pointer of the bad place or copies what it accepts (toJSON, undefined).
  const json = JSON.stringify(isPlainJson(value, 0) ? value : cloneJson(value, subject))
  if (json.includes('\\u') && UNSTORABLE_ESCAPE.test(json)) {
    throw new CoreError(
      'E_VALIDATION',
      `Invalid ${subject}: strings must not contain U+0000 or unpaired surrogates (PostgreSQL jsonb cannot store them); encode binary data as base64`,
      { details: { namespace, key } },
    )
  }
  if (json.length > maxBytes / 3) {
    const bytes = Buffer.byteLength(json, 'utf8')
    if (bytes > maxBytes) {
      throw new CoreError(
        'E_VALIDATION',
        `Invalid ${subject}: ${bytes} bytes of JSON, the limit is ${maxBytes}; split it over several keys or raise maxValueBytes`,
        { details: { namespace, key, bytes, maxBytes } },
      )
    }
  }
  return json
}

/** Parses stored JSON text; a corrupt document is E_STORAGE. @internal */
export function parse(json: string, namespace: string, key: string): unknown {
  try {
    return JSON.parse(json)
  } catch (error) {
    throw new CoreError('E_STORAGE', `Stored document "${namespace}"/"${key}" is not valid JSON`, {
      cause: error,
      details: { namespace, key },
    })
  }
}

/** Encodes the opaque list cursor: the last key of the page. @internal */
export function encodeCursor(lastKey: string): string {
  return `k1.${Buffer.from(lastKey, 'utf8').toString('base64url')}`
}

/** Decodes a list cursor made by {@link encodeCursor}. @internal */
export function decodeCursor(cursor: unknown): string | undefined {
  if (cursor === undefined) return undefined
  if (typeof cursor === 'string' && cursor.startsWith('k1.')) {
    const body = cursor.slice(3)
    const key = Buffer.from(body, 'base64url').toString('utf8')
    if (
      body !== '' &&
      Buffer.from(key, 'utf8').toString('base64url') === body &&
      KEY_CHARS.test(key) &&
      codePoints(key) <= MAX_KEY_LENGTH
    ) {
      return key
    }
  }
  throw new CoreError(
    'E_VALIDATION',
    `Invalid cursor ${JSON.stringify(cursor)}: pass the cursor of the previous page unchanged, or none for the first page`,
    { details: { cursor } },
  )
}

/**
 * Conditions on one path of a query: a plain scalar (equality) or an object of operators, all of
 * which must hold. See {@link QueryOptions}.
 * @public
 */
export type WhereCondition =
  | JsonScalar
  | {
      eq?: JsonScalar
      gt?: number | string
      gte?: number | string
      lt?: number | string
      lte?: number | string
      in?: JsonScalar[]
    }

/**
 * A query as callers write it: `where` (path → condition, AND), `orderBy`, `limit`.
 * @example
 * ```ts
 * const q: QueryOptions = { where: { on: true, level: { gte: 50 } }, orderBy: { path: 'level', direction: 'desc' }, limit: 10 }
 * ```
 * @public
 */
export interface QueryOptions {
  /** Path (`'room.floor'`) → condition; all must hold. Absent or `{}` matches everything. */
  where?: Record<string, WhereCondition>
  /** Sort by the value at a path; absent = by key ascending. */
  orderBy?: { path: string; direction?: 'asc' | 'desc' }
  /** Most results, 1-1,000. @defaultValue 100 */
  limit?: number
}

/**
 * Normalises a query; returns `undefined` when it can match nothing (an empty `in` list).
 * @internal
 */
export function normaliseQuery(options: unknown): AdapterQuery | undefined {
  if (options === undefined) options = {}
  if (!isPlainObject(options)) {
    throw badQuery('the query is an object { where?, orderBy?, limit? }', {})
  }
  const { where, orderBy, limit, ...rest } = options as Record<string, unknown>
  const unknownKeys = Object.keys(rest)
  if (unknownKeys.length > 0) {
    throw badQuery(`unknown option "${unknownKeys[0]}"; use where, orderBy and limit`, {})
  }
  const conditions: QueryCondition[] = []
  let empty = false
  if (where !== undefined) {
    if (!isPlainObject(where)) throw badQuery('"where" maps paths to conditions', {})
    const paths = Object.keys(where)
    if (paths.length > MAX_CONDITIONS)
      throw badQuery(`at most ${MAX_CONDITIONS} paths in "where"`, {})
    for (const pathText of paths) {
      const path = parsePath(pathText)
      const cond = (where as Record<string, unknown>)[pathText]
      if (!isPlainObject(cond)) {
        if (!isScalar(cond)) {
          throw badQuery(
            `the condition on "${pathText}" must be a string, finite number, boolean, null or an operator object ({ gt, gte, lt, lte, in, eq })`,
            { path: pathText },
          )
        }
        conditions.push({ path, op: 'eq', value: cond })
        continue
      }
      const ops = Object.keys(cond)
      if (ops.length === 0)
        throw badQuery(`the condition on "${pathText}" has no operator`, { path: pathText })
      for (const op of ops) {
        const operand = (cond as Record<string, unknown>)[op]
        if (op === 'eq') {
          if (!isScalar(operand))
            throw badQuery(`"eq" on "${pathText}" takes a JSON scalar`, { path: pathText })
          conditions.push({ path, op, value: operand })
        } else if (op === 'gt' || op === 'gte' || op === 'lt' || op === 'lte') {
          if (
            typeof operand !== 'string' &&
            !(typeof operand === 'number' && Number.isFinite(operand))
          ) {
            throw badQuery(`"${op}" on "${pathText}" takes a finite number or a string`, {
              path: pathText,
            })
          }
          conditions.push({ path, op, value: operand })
        } else if (op === 'in') {
          if (
            !Array.isArray(operand) ||
            operand.length > MAX_IN_VALUES ||
            !operand.every(isScalar)
          ) {
            throw badQuery(
              `"in" on "${pathText}" takes an array of at most ${MAX_IN_VALUES} JSON scalars`,
              { path: pathText },
            )
          }
          if (operand.length === 0) empty = true
          else conditions.push({ path, op, values: [...operand] })
        } else {
          throw badQuery(
            `unknown operator "${op}" on "${pathText}"; use eq, gt, gte, lt, lte or in`,
            {
              path: pathText,
            },
          )
        }
      }
    }
  }
  let order: QueryOrder | undefined
  if (orderBy !== undefined) {
    if (!isPlainObject(orderBy) || typeof (orderBy as { path?: unknown }).path !== 'string') {
      throw badQuery('"orderBy" is { path, direction?: "asc" | "desc" }', {})
    }
    const { path, direction = 'asc' } = orderBy as { path: string; direction?: unknown }
    if (direction !== 'asc' && direction !== 'desc') {
      throw badQuery('"orderBy.direction" is "asc" or "desc"', { direction })
    }
    order = { path: parsePath(path), direction }
  }
  const query: AdapterQuery = { where: conditions, limit: checkLimit(limit) }
  if (order) query.orderBy = order
  return empty ? undefined : query
}

/** Checks a batch: an array of `{ op: 'set', key, value }` / `{ op: 'delete', key }`. @internal */
export function checkBatchArray(ops: unknown): unknown[] {
  if (!Array.isArray(ops) || ops.length > MAX_BATCH_OPS) {
    throw new CoreError(
      'E_VALIDATION',
      `Invalid batch: pass an array of at most ${MAX_BATCH_OPS} operations ({ op: "set", key, value } or { op: "delete", key })`,
    )
  }
  return ops
}

/**
 * True when `value` is made only of plain objects (prototype Object or null), arrays without
 * holes, strings, finite numbers, booleans and null, at most 64 levels deep: then
 * `JSON.stringify(value)` equals `JSON.stringify(cloneJson(value))` and the copy can be skipped.
 */
function isPlainJson(value: unknown, depth: number): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true
    case 'number':
      return Number.isFinite(value)
    case 'object': {
      if (value === null) return true
      if (depth >= 64) return false
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          if (!(i in value) || !isPlainJson(value[i], depth + 1)) return false
        }
        return true
      }
      const proto = Object.getPrototypeOf(value)
      if (proto !== Object.prototype && proto !== null) return false
      for (const k in value) {
        if (!Object.hasOwn(value, k)) return false
        if (!isPlainJson((value as Record<string, unknown>)[k], depth + 1)) return false
      }
      return true
    }
    default:
      return false
  }
}

function parsePath(text: string): string[] {
  const segments = text.split('.')
  if (segments.length > MAX_PATH_SEGMENTS || !segments.every((s) => PATH_SEGMENT.test(s))) {
    throw badQuery(
      `invalid path "${text}": use 1-${MAX_PATH_SEGMENTS} dot-separated member names, each a letter or "_" then letters, digits, "_" or "-" (paths address object members, never array items)`,
      { path: text },
    )
  }
  return segments
}

function isPlainObject(value: unknown): value is object {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

function isScalar(value: unknown): value is JsonScalar {
  return (
    value === null ||
    typeof value === 'string' ||
    typeof value === 'boolean' ||
    (typeof value === 'number' && Number.isFinite(value))
  )
}

function codePoints(text: string): number {
  if (text.length <= MAX_KEY_LENGTH) return text.length
  let n = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c < 0xdc00 || c > 0xdfff) n++
  }
  return n
}

function badKey(key: unknown, namespace: string | undefined, rule: string): CoreError {
  const shown =
    typeof key === 'string' && key.length > 80
      ? `${JSON.stringify(key.slice(0, 80))}…`
      : JSON.stringify(key)
  const where = namespace === undefined ? '' : ` in namespace "${namespace}"`
  return new CoreError('E_VALIDATION', `Invalid storage key ${shown}${where}: ${rule}`, {
    details: { namespace, key, rule },
  })
}

function badQuery(why: string, details: Record<string, unknown>): CoreError {
  return new CoreError('E_VALIDATION', `Invalid query: ${why}`, { details })
}
