/**
 * The SQL text of every statement the adapter runs, for one schema. Fixed statements are
 * built once per adapter and run as prepared statements (postgres.js prepares each distinct
 * text once per connection); `query` statements are built per call from the conditions.
 */
import type { AdapterListOptions, AdapterQuery, JsonScalar, QueryCondition } from '@core/storage'
import { quoteIdent } from './migrate.js'

/** The fixed statements of one schema. @internal */
export interface Statements {
  get: string
  getForUpdate: string
  has: string
  hasForUpdate: string
  set: string
  delete: string
  countAll: string
  countFrom: string
  countRange: string
  /** Sets only: upsert of `unnest($2 keys, $3 json)`. */
  batchSet: string
  /** Deletes only: `key = any($2)`. */
  batchDelete: string
  /** Both, in one atomic statement: delete `$2`, upsert `unnest($3, $4)`. */
  batchBoth: string
  getVersion: string
  setVersion: string
  /** Transaction-level advisory lock on a namespace's version record: `$1` = namespace. */
  lockVersion: string
}

/** Second-level key class of the per-namespace version locks (`'Cver'`). */
const VERSION_LOCK_CLASS = 0x43766572

/**
 * Builds the fixed statements for the tables in `schema`.
 * @internal
 */
export function buildStatements(schema: string): Statements {
  const docs = `${quoteIdent(schema)}.core_documents`
  const versions = `${quoteIdent(schema)}.core_schema_versions`
  const upsert = `insert into ${docs} as d (namespace, key, value)`
  const onConflict =
    'on conflict (namespace, key) do update set value = excluded.value, updated_at = now()'
  const unnest = (k: number, v: number) =>
    `select $1, k, v::jsonb from unnest($${k}::text[], $${v}::text[]) as t(k, v)`
  const get = `select value::text as json from ${docs} where namespace = $1 and key = $2`
  const has = `select 1 as one from ${docs} where namespace = $1 and key = $2`
  return {
    get,
    getForUpdate: `${get} for update`,
    has,
    hasForUpdate: `${has} for update`,
    set: `${upsert} values ($1, $2, $3::text::jsonb) ${onConflict}`,
    delete: `delete from ${docs} where namespace = $1 and key = $2`,
    countAll: `select count(*)::int8 as n from ${docs} where namespace = $1`,
    countFrom: `select count(*)::int8 as n from ${docs} where namespace = $1 and key >= $2 and starts_with(key, $2)`,
    countRange: `select count(*)::int8 as n from ${docs} where namespace = $1 and key >= $2 and key < $3`,
    batchSet: `${upsert} ${unnest(2, 3)} ${onConflict}`,
    batchDelete: `delete from ${docs} where namespace = $1 and key = any($2::text[])`,
    batchBoth: `with deleted as (delete from ${docs} where namespace = $1 and key = any($2::text[])) ${upsert} ${unnest(3, 4)} ${onConflict}`,
    getVersion: `select version from ${versions} where namespace = $1`,
    setVersion: `insert into ${versions} (namespace, version) values ($1, $2::int4) on conflict (namespace) do update set version = excluded.version, updated_at = now()`,
    lockVersion: `select pg_advisory_xact_lock(${VERSION_LOCK_CLASS}, hashtext(${sqlString(schema)} || '/' || $1::text))`,
  }
}

/** A statement text and its parameters. @internal */
export interface Built {
  text: string
  params: unknown[]
}

/**
 * The smallest string greater than every string that starts with `prefix` (code point order),
 * or `undefined` when there is none (`prefix` is empty or all U+10FFFF). Surrogate code points
 * are skipped: PostgreSQL text cannot hold them.
 * @internal
 */
export function prefixEnd(prefix: string): string | undefined {
  const points = Array.from(prefix)
  while (points.length > 0) {
    const last = points.pop()!.codePointAt(0)!
    if (last < 0x10ffff) {
      const next = last === 0xd7ff ? 0xe000 : last + 1
      return points.join('') + String.fromCodePoint(next)
    }
  }
  return undefined
}

/**
 * `count` for a key prefix: a range scan of the primary key.
 * @internal
 */
export function buildCount(s: Statements, namespace: string, prefix: string): Built {
  if (prefix === '') return { text: s.countAll, params: [namespace] }
  const end = prefixEnd(prefix)
  return end === undefined
    ? { text: s.countFrom, params: [namespace, prefix] }
    : { text: s.countRange, params: [namespace, prefix, end] }
}

/**
 * `list`: keys `>= prefix`, `< prefixEnd(prefix)` and `> after`, in key order, up to `limit`;
 * a range scan of the primary key `(namespace, key)`.
 * @internal
 */
export function buildList(schema: string, namespace: string, options: AdapterListOptions): Built {
  const params: unknown[] = [namespace]
  const where = ['namespace = $1']
  if (options.prefix !== '') {
    params.push(options.prefix)
    where.push(`key >= $${params.length}`)
    const end = prefixEnd(options.prefix)
    if (end === undefined) where.push(`starts_with(key, $${params.length})`)
    else {
      params.push(end)
      where.push(`key < $${params.length}`)
    }
  }
  if (options.after !== undefined) {
    params.push(options.after)
    where.push(`key > $${params.length}`)
  }
  params.push(options.limit)
  return {
    text: `select key, value::text as json from ${quoteIdent(schema)}.core_documents where ${where.join(' and ')} order by key limit $${params.length}::int8`,
    params,
  }
}

/** A query path segment, as the contract guarantees; checked again since paths are inlined. */
const SEGMENT = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/

/**
 * `query`: the conditions become SQL over `value #> '{path}'` (`v` below):
 * - `eq` → `value @> {path: value}` (served by the GIN `jsonb_path_ops` index) and `v = value`
 *   (jsonb equality: same type, numbers numerically; the containment alone would also accept
 *   an array holding the value);
 * - `in` → `v` is a scalar and `[values] @> [v]`;
 * - `gt`/`gte`/`lt`/`lte` → `v` has the operand's JSON type, then numbers compare as `numeric`
 *   and strings as text `COLLATE "C"` (code point order). Each cast sits in a `CASE` on the
 *   type, so other types never reach it;
 * - a missing path makes `v` SQL `NULL`, which no condition accepts.
 * Ordering follows the contract's ranks (missing < null < false < true < number < string <
 * array/object), then the number, then the string, then the key ascending.
 *
 * Paths are inlined as literals (they are checked against the contract's segment pattern);
 * every value is a bound parameter.
 *
 * @internal
 */
export function buildQuery(schema: string, namespace: string, query: AdapterQuery): Built {
  const params: unknown[] = [namespace]
  const bind = (value: unknown, cast: string) => {
    params.push(value)
    return `$${params.length}::${cast}`
  }
  const where = ['namespace = $1']
  for (const condition of query.where) where.push(conditionSql(condition, bind))
  let order = 'key'
  if (query.orderBy !== undefined) {
    const v = pathSql(query.orderBy.path)
    const dir = query.orderBy.direction === 'desc' ? 'desc' : 'asc'
    order = [
      `case when ${v} is null then 0 when ${v} = 'null'::jsonb then 1 when ${v} = 'false'::jsonb then 2 when ${v} = 'true'::jsonb then 3 when jsonb_typeof(${v}) = 'number' then 4 when jsonb_typeof(${v}) = 'string' then 5 else 6 end ${dir}`,
      `case when jsonb_typeof(${v}) = 'number' then (${v})::numeric end ${dir}`,
      `case when jsonb_typeof(${v}) = 'string' then (${v}) #>> '{}' end collate "C" ${dir}`,
      'key',
    ].join(', ')
  }
  const limit = bind(query.limit, 'int8')
  return {
    text: `select key, value::text as json from ${quoteIdent(schema)}.core_documents where ${where.join(' and ')} order by ${order} limit ${limit}`,
    params,
  }
}

function conditionSql(c: QueryCondition, bind: (value: unknown, cast: string) => string): string {
  const v = pathSql(c.path)
  switch (c.op) {
    case 'eq':
      return `value @> ${bind(JSON.stringify(nest(c.path, c.value)), 'text::jsonb')} and ${v} = ${bind(JSON.stringify(c.value), 'text::jsonb')}`
    case 'in':
      return `jsonb_typeof(${v}) not in ('object', 'array') and ${bind(JSON.stringify(c.values), 'text::jsonb')} @> jsonb_build_array(${v})`
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte': {
      const op = { gt: '>', gte: '>=', lt: '<', lte: '<=' }[c.op]
      return typeof c.value === 'number'
        ? `case when jsonb_typeof(${v}) = 'number' then (${v})::numeric ${op} ${bind(String(c.value), 'text::numeric')} else false end`
        : `case when jsonb_typeof(${v}) = 'string' then ((${v}) #>> '{}') collate "C" ${op} ${bind(c.value, 'text')} else false end`
    }
    default:
      throw new TypeError(`Unknown query operator ${JSON.stringify((c as { op: unknown }).op)}`)
  }
}

function pathSql(path: readonly string[]): string {
  for (const segment of path) {
    if (!SEGMENT.test(segment))
      throw new TypeError(`Invalid query path segment ${JSON.stringify(segment)}`)
  }
  return `(value #> '{${path.join(',')}}')`
}

function nest(path: readonly string[], value: JsonScalar): unknown {
  let doc: unknown = value
  for (let i = path.length - 1; i >= 0; i--) doc = { [path[i] as string]: doc }
  return doc
}

function sqlString(text: string): string {
  return `'${text.replaceAll("'", "''")}'`
}
