import type { Logger, StateChange, StateChangeReason } from '@core/contracts'
import type { Redis } from 'ioredis'
import type { ChangeOrder } from './change-order.js'
import type { RedisMetricsRecorder } from './metrics.js'

/** Where the state backend's keys live under its prefix. @internal */
export interface StateKeys {
  readonly counter: string
  readonly stream: string
  readonly deadlines: string
  readonly namespaces: string
  entry(namespace: string, key: string): string
  index(namespace: string): string
}

/** @internal */
export function stateKeys(prefix: string): StateKeys {
  const base = `${prefix}state:`
  return {
    counter: `${base}revision`,
    stream: `${base}changes`,
    deadlines: `${base}deadlines`,
    namespaces: `${base}namespaces`,
    entry: (namespace, key) => `${base}v:${namespace}:${key}`,
    index: (namespace) => `${base}i:${namespace}`,
  }
}

/** Options of {@link startChangeStream}. @internal */
export interface ChangeStreamOptions {
  /** A connection of its own: `XREAD BLOCK` holds it. */
  reader: Redis
  keys: StateKeys
  blockMs: number
  /** Pause after a read that returned only this backend's own changes, ms (0 = none). */
  ownPauseMs: number
  /** This backend's id: the `o` (origin) field of the entries its own writes appended. */
  origin: string
  /** Where the entries go, in stream order; it delivers them to the engine. */
  order: ChangeOrder
  metrics: RedisMetricsRecorder
  logger: Logger
}

/** A running reader. @internal */
export interface ChangeStream {
  /** The last id read (`''` before the reader found the stream's end). */
  position(): string
  gaps(): number
  stop(): void
}

/**
 * Reads the change stream from its current end and hands every entry to `order`, in stream
 * order (= revision order: the scripts `INCR` and `XADD` in one atomic step). A read that fails
 * (Redis down) is retried every 250 ms from the last id read, so a hub that was disconnected
 * catches up. Revisions are consecutive in the stream, so a jump means the stream was trimmed
 * past this reader: then the keys of every namespace are re-read and those written in the gap
 * are reported as `set` changes (deletes and expiries inside the gap cannot be recovered and
 * are not reported).
 * @internal
 */
export function startChangeStream(options: ChangeStreamOptions): ChangeStream {
  const { reader, keys, order, metrics, logger } = options
  let stopped = false
  let lastId = ''
  let gaps = 0

  const start = async (): Promise<void> => {
    const last = (await reader.xrevrange(keys.stream, '+', '-', 'COUNT', 1))[0]
    let revision: number
    let id: string
    if (last === undefined) {
      id = '0-0'
      revision = Number((await reader.get(keys.counter)) ?? 0)
    } else {
      id = last[0]
      revision = Number(field(last[1], 'r'))
    }
    if (stopped) return
    lastId = id
    order.start(revision)
  }

  const resync = async (after: number, before: number): Promise<void> => {
    gaps++
    metrics.gap()
    logger.warn(
      { after, before },
      'redis state: the change stream was trimmed past this hub; re-reading the keys (deletes and expiries in the gap are not reported)',
    )
    const found: StateChange[] = []
    for (const namespace of await reader.smembers(keys.namespaces)) {
      const names = await reader.zrange(keys.index(namespace), 0, -1)
      if (names.length === 0) continue
      const pipeline = reader.pipeline()
      for (const key of names) pipeline.hmget(keys.entry(namespace, key), 'r', 'v')
      const replies = (await pipeline.exec()) ?? []
      for (const [i, [error, reply]] of replies.entries()) {
        const [r, v] = (reply ?? []) as [string | null, string | null]
        const revision = Number(r)
        if (error !== null || v === null || !(revision > after && revision < before)) continue
        const value = parse(v)
        if (value === undefined) continue
        const key = names[i] as string
        found.push({ namespace, key, value: value.json, revision, reason: 'set' })
      }
    }
    found.sort((a, b) => a.revision - b.revision)
    for (const change of found) {
      order.streamed(change.revision, change.namespace, change.key, () => change)
    }
  }

  const read = async (): Promise<void> => {
    const reply = (await reader.xread(
      'COUNT',
      1_000,
      'BLOCK',
      options.blockMs,
      'STREAMS',
      keys.stream,
      lastId,
    )) as [string, [string, string[]][]][] | null
    if (stopped) return
    const entries = reply?.[0]?.[1] ?? []
    if (entries.length === 0) return
    const now = Date.now()
    let others = 0
    for (const [id, fields] of entries) {
      const revision = Number(field(fields, 'r'))
      const at = order.position()
      if (at !== undefined && revision > at + 1) await resync(at, revision)
      if (stopped) return
      lastId = id
      const namespace = field(fields, 'n') ?? ''
      const key = field(fields, 'k') ?? ''
      order.streamed(revision, namespace, key, () => toChange(fields, revision))
      // Own by origin, not by whether the reply was handled first: at concurrency 1 the reader
      // often gets the entry before the writer gets its reply.
      if (field(fields, 'o') !== options.origin) others++
    }
    const newest = (entries.at(-1) as [string, string[]])[0]
    metrics.lag(Math.max(0, now - Number(newest.slice(0, newest.indexOf('-')))) / 1_000)
    order.settle()
    // Only this hub's own changes (reported from the replies already): let a few gather
    // before the next read instead of waking for each one.
    if (others === 0 && options.ownPauseMs > 0) await sleep(options.ownPauseMs)
  }

  void (async () => {
    while (!stopped) {
      try {
        if (reader.status !== 'ready') await readyOrTimeout(reader, 1_000)
        if (lastId === '') await start()
        await read()
      } catch (error) {
        if (stopped) break
        logger.debug({ err: error }, 'redis state: reading the change stream failed; retrying')
        await new Promise((resolve) => setTimeout(resolve, 250))
      }
    }
  })()

  return {
    position: () => lastId,
    gaps: () => gaps,
    stop() {
      stopped = true
    },
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Resolves when `redis` is ready or after `ms`, whichever comes first. */
function readyOrTimeout(redis: Redis, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer)
      redis.off('ready', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    redis.once('ready', done)
  })
}

/** The value of `name` in a flat `[name, value, …]` field list. */
function field(fields: string[], name: string): string | undefined {
  for (let i = 0; i < fields.length; i += 2) if (fields[i] === name) return fields[i + 1]
  return undefined
}

/** Parses JSON text; `undefined` when it is not JSON. @internal */
export function parse(text: string): { json: unknown } | undefined {
  try {
    return { json: JSON.parse(text) }
  } catch {
    return undefined
  }
}

const REASONS = new Set<string>(['set', 'delete', 'expired'])

function toChange(fields: string[], revision: number): StateChange | undefined {
  const reason = field(fields, 'c')
  const namespace = field(fields, 'n')
  const key = field(fields, 'k')
  if (reason === undefined || !REASONS.has(reason) || namespace === undefined || key === undefined)
    return undefined
  if (!Number.isSafeInteger(revision)) return undefined
  const change: StateChange = { namespace, key, revision, reason: reason as StateChangeReason }
  const value = field(fields, 'v')
  const previous = field(fields, 'p')
  if (reason === 'set') {
    const parsed = value === undefined ? undefined : parse(value)
    if (parsed === undefined) return undefined
    change.value = parsed.json
  }
  if (previous !== undefined) {
    const parsed = parse(previous)
    if (parsed === undefined) return undefined
    change.previous = parsed.json
  }
  return change
}
