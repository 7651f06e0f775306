import type { AdapterQuery, JsonScalar, QueryCondition } from '@core/storage'

/** One compiled query: SQL text (the statement cache key) and its parameters, namespace first. */
export interface CompiledQuery {
  sql: string
  params: (string | number)[]
}

const NUMERIC = `('integer','real')`
const RANK = `CASE json_type(doc, ?) WHEN 'null' THEN 1 WHEN 'false' THEN 2 WHEN 'true' THEN 3 WHEN 'integer' THEN 4 WHEN 'real' THEN 4 WHEN 'text' THEN 5 WHEN 'array' THEN 6 WHEN 'object' THEN 6 ELSE 0 END`
const SORT_VALUE = `CASE WHEN json_type(doc, ?) IN ('array','object') THEN NULL ELSE json_extract(doc, ?) END`
const OPERATORS = { gt: '>', gte: '>=', lt: '<', lte: '<=' } as const

/**
 * Compiles a normalised query to SQLite SQL over `core_storage_documents`, following the
 * matching and ordering rules of the adapter contract (`QueryCondition`, `QueryOrder`):
 * `json_type` pins the JSON type (so `true` never matches `1`, a missing path is NULL and
 * matches nothing), `json_extract` gives the value, TEXT compares with the BINARY collation
 * (code point order). Every value, path included, is a bound parameter.
 */
export function compileQuery(namespace: string, query: AdapterQuery): CompiledQuery {
  const params: (string | number)[] = [namespace]
  const where: string[] = ['namespace = ?']
  for (const condition of query.where) where.push(compileCondition(condition, params))
  let sql = `SELECT key, doc AS json FROM core_storage_documents WHERE ${where.join(' AND ')} ORDER BY `
  const order = query.orderBy
  if (order !== undefined) {
    const path = jsonPath(order.path)
    const dir = order.direction === 'desc' ? 'DESC' : 'ASC'
    sql += `${RANK} ${dir}, ${SORT_VALUE} ${dir}, `
    params.push(path, path, path)
  }
  sql += 'key ASC LIMIT ?'
  params.push(query.limit)
  return { sql, params }
}

function compileCondition(c: QueryCondition, params: (string | number)[]): string {
  const path = jsonPath(c.path)
  if (c.op === 'eq') return equals(path, [c.value], params)
  if (c.op === 'in') return equals(path, c.values, params)
  const type = typeof c.value === 'number' ? `IN ${NUMERIC}` : `= 'text'`
  params.push(path, path, c.value)
  return `(json_type(doc, ?) ${type} AND json_extract(doc, ?) ${OPERATORS[c.op]} ?)`
}

/** Equality with any of `values`, each compared within its own JSON type. */
function equals(path: string, values: JsonScalar[], params: (string | number)[]): string {
  const strings: string[] = []
  const numbers: number[] = []
  const types: string[] = []
  for (const v of values) {
    if (typeof v === 'string') strings.push(v)
    else if (typeof v === 'number') numbers.push(v)
    else types.push(v === null ? `'null'` : v ? `'true'` : `'false'`)
  }
  const parts: string[] = []
  if (strings.length > 0) {
    parts.push(
      `(json_type(doc, ?) = 'text' AND json_extract(doc, ?) IN (${marks(strings.length)}))`,
    )
    params.push(path, path, ...strings)
  }
  if (numbers.length > 0) {
    parts.push(
      `(json_type(doc, ?) IN ${NUMERIC} AND json_extract(doc, ?) IN (${marks(numbers.length)}))`,
    )
    params.push(path, path, ...numbers)
  }
  if (types.length > 0) {
    parts.push(`json_type(doc, ?) IN (${[...new Set(types)].join(',')})`)
    params.push(path)
  }
  return parts.length === 1 ? parts[0]! : `(${parts.join(' OR ')})`
}

/** `['room', 'floor']` → `$."room"."floor"` (segments are `[A-Za-z_][A-Za-z0-9_-]*`, no quoting issue). */
function jsonPath(path: string[]): string {
  return `$.${path.map((s) => `"${s}"`).join('.')}`
}

function marks(n: number): string {
  return n === 1 ? '?' : `?${',?'.repeat(n - 1)}`
}
