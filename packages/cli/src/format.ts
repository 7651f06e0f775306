import { CORE_ERROR_TITLES, CoreError } from '@core/contracts'
import type { ReceivedProblem } from './client.js'

/** Prefix of problem `type` URIs, as `@core/http` sends them. */
const PROBLEM_TYPE_BASE = 'https://core-runtime.dev/errors/'

/**
 * Aligns rows into columns for people: a header row in capitals, two spaces between columns,
 * no trailing spaces; a cell's line breaks become spaces. Widths count UTF-16 units.
 * @internal
 */
export function formatTable(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
): string {
  const all = [headers.map((h) => h.toUpperCase()), ...rows.map((r) => r.map(oneLine))]
  const widths = headers.map((_, i) => Math.max(...all.map((row) => (row[i] ?? '').length)))
  return all
    .map((row) =>
      headers
        .map((_, i) =>
          i === headers.length - 1 ? (row[i] ?? '') : (row[i] ?? '').padEnd(widths[i] ?? 0),
        )
        .join('  ')
        .trimEnd(),
    )
    .join('\n')
    .concat('\n')
}

/**
 * Label/value pairs, labels aligned; a value with line breaks continues indented under its
 * first line.
 * @internal
 */
export function formatDetails(pairs: ReadonlyArray<readonly [string, string]>): string {
  const width = Math.max(...pairs.map(([label]) => label.length))
  return pairs
    .map(([label, value]) => {
      const [first = '', ...rest] = value.split('\n')
      const pad = ' '.repeat(width + 2)
      return [`${label.padEnd(width)}  ${first}`.trimEnd(), ...rest.map((l) => `${pad}${l}`)].join(
        '\n',
      )
    })
    .join('\n')
    .concat('\n')
}

/** Pretty JSON (two spaces) for people; `undefined` prints as `null`. @internal */
export function formatJson(value: unknown): string {
  return `${JSON.stringify(value ?? null, null, 2)}\n`
}

/** One-line JSON for scripts (`--json`, NDJSON). @internal */
export function formatJsonLine(value: unknown): string {
  return `${JSON.stringify(value ?? null)}\n`
}

/** A JSON value on one line, cut to `max` characters with `…`. @internal */
export function formatCompact(value: unknown, max = 60): string {
  const text = JSON.stringify(value ?? null)
  return text.length > max ? `${text.slice(0, max - 1)}…` : text
}

/** Epoch ms as RFC 3339 UTC; `-` for none. @internal */
export function formatTime(epochMs: unknown): string {
  if (typeof epochMs !== 'number' || !Number.isFinite(epochMs)) return '-'
  return new Date(epochMs).toISOString()
}

/**
 * The text printed to stderr for a failure: `error E_CODE: message`, then one indented line per
 * validation issue (`  /path: message`) the hub reported.
 * @internal
 */
export function formatError(error: unknown): string {
  const err = asCoreError(error)
  const lines = [`error ${err.code}: ${err.message}`]
  const problem = problemOfDetails(err)
  for (const issue of problem?.errors ?? []) {
    lines.push(`  ${issue.path === '' ? '(root)' : issue.path}: ${issue.message}`)
  }
  return `${lines.join('\n')}\n`
}

/**
 * The RFC 9457 problem printed to stderr with `--json`: the hub's own problem when the error
 * came from it, else one built from the CoreError (`type`, `title`, `detail`, `code`, `details`).
 * @internal
 */
export function problemOf(error: unknown): ReceivedProblem {
  const err = asCoreError(error)
  const received = problemOfDetails(err)
  if (received !== undefined) return received
  const problem: ReceivedProblem = {
    type: `${PROBLEM_TYPE_BASE}${err.code}`,
    title: CORE_ERROR_TITLES[err.code],
    detail: err.message,
    code: err.code,
  }
  if (err.details !== undefined) problem.details = { ...err.details }
  return problem
}

function asCoreError(error: unknown): CoreError {
  if (CoreError.is(error)) return error
  return new CoreError(
    'E_INTERNAL',
    error instanceof Error ? error.message : `Unexpected failure: ${String(error)}`,
    { cause: error },
  )
}

function problemOfDetails(err: CoreError): ReceivedProblem | undefined {
  const problem = err.details?.problem
  return typeof problem === 'object' && problem !== null ? (problem as ReceivedProblem) : undefined
}

function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, ' ')
}
