import { randomBytes } from 'node:crypto'

/**
 * The parts of a W3C Trace Context `traceparent` header (version 00).
 * @see W3C Trace Context, §3.2 "traceparent Header"
 * @public
 */
export interface TraceParent {
  /** 32 lower-case hex digits, not all zero. */
  traceId: string
  /** 16 lower-case hex digits, not all zero: the caller's span. */
  parentId: string
  /** Trace flags as 2 hex digits; `01` = sampled. */
  flags: string
}

const TRACEPARENT_RE = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/

/**
 * Parses a `traceparent` value; returns `undefined` for anything malformed (per the spec,
 * an invalid header is ignored and a new trace started).
 * @see W3C Trace Context, §3.2
 * @public
 */
export function parseTraceparent(value: string | undefined): TraceParent | undefined {
  if (value === undefined) return undefined
  const m = TRACEPARENT_RE.exec(value)
  if (m === null) return undefined
  const [, traceId, parentId, flags] = m as unknown as [string, string, string, string]
  if (/^0+$/.test(traceId) || /^0+$/.test(parentId)) return undefined
  return { traceId, parentId, flags }
}

/**
 * Formats a `traceparent` for the next hop: the same trace id as `parent` (or a new random
 * one) and a new random span id. Flags are kept, `01` (sampled) for a new trace.
 * @param parent - The incoming `traceparent`, if any.
 * @returns `00-<trace-id>-<span-id>-<flags>`.
 * @see W3C Trace Context, §3.2
 * @public
 */
export function nextTraceparent(parent?: string): string {
  const p = parseTraceparent(parent)
  const bytes = randomBytes(p === undefined ? 24 : 8).toString('hex')
  return p === undefined
    ? `00-${bytes.slice(0, 32)}-${bytes.slice(32)}-01`
    : `00-${p.traceId}-${bytes}-${p.flags}`
}

/** True if `value` is a well-formed version-00 `traceparent`. @public */
export function isTraceparent(value: unknown): value is string {
  return typeof value === 'string' && parseTraceparent(value) !== undefined
}
