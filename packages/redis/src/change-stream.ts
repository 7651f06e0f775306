import type { Logger, StateChange, StateChangeReason } from '@core/contracts'
import type { StateBackendListener } from '@core/state-engine'
import type { Redis } from 'ioredis'
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
  listener: StateBackendListener
  /**
   * The change object this backend's own write of `revision` returned, to report instead of
   * parsing the entry; `null` to skip the entry (the engine published it already).
   */
  local(revision: number): StateChange | null | undefined
  /** Called after every entry up to and including `revision` was reported. */
  advanced(revision: number): void
  metrics: RedisMetricsRecorder
  logger: Logger
}

/** A running reader. @internal */
export interface ChangeStream {
  /** The last id read (`''` before the first). */
  position(): string
  /** The revision of the last entry read, `0` before the first read. */
  revision(): number
  /**
   * The revision the reader started after, once it has found the stream's end (`undefined`
   * before): changes up to it are never reported by this reader.
   */
  startedAfter(): number | undefined
  /** Resolves when {@link ChangeStream.startedAfter} is known. */
  readonly started: Promise<number>
  gaps(): number
  stop(): void
}

/**
 * Reads the change stream from its current end, delivering every change to `listener` (this
 * backend's own included, see `local`), in stream order (= revision order: the scripts `INCR`
 * and `XADD` in one atomic step). A read that fails (Redis down) is retried every 250 ms from the last id read, so
 * a hub that was disconnected catches up. Revisions are consecutive in the stream, so a jump
 * means the stream was trimmed past this reader: then the keys of every namespace are re-read
 * and those written in the gap are reported as `set` changes (deletes and expiries inside the
 * gap cannot be recovered and are not reported).
 * @internal
 */
export function startChangeStream(options: ChangeStreamOptions): ChangeStream {
  const { reader, keys, listener, metrics, logger } = options
  let stopped = false
  let lastId = ''
  let lastRevision: number | undefined
  let gaps = 0
  let startRevision: number | undefined
  let markStarted: (revision: number) => void = () => {}
  const started = new Promise<number>((resolve) => {
    markStarted = resolve
  })

  const deliver = (change: StateChange): void => {
    try {
      listener(change)
    } catch (error) {
      logger.error({ err: error }, 'redis state: a change listener threw')
    }
  }

  const start = async (): Promise<void> => {
    const last = (await reader.xrevrange(keys.stream, '+', '-', 'COUNT', 1))[0]
    if (last === undefined) {
      lastId = '0-0'
      lastRevision = Number((await reader.get(keys.counter)) ?? 0)
    } else {
      lastId = last[0]
      lastRevision = Number(field(last[1], 'r'))
    }
    options.advanced(lastRevision)
    startRevision = lastRevision
    markStarted(lastRevision)
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
    for (const change of found) deliver(change)
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
    const entries = reply?.[0]?.[1] ?? []
    for (const [id, fields] of entries) {
      const revision = Number(field(fields, 'r'))
      if (lastRevision !== undefined && revision > lastRevision + 1) {
        await resync(lastRevision, revision)
      }
      lastId = id
      lastRevision = revision
      metrics.lag(Math.max(0, Date.now() - Number(id.slice(0, id.indexOf('-')))) / 1_000)
      const own = options.local(revision)
      const change = own === undefined ? toChange(fields, revision) : own
      if (change === undefined) {
        logger.warn({ id }, 'redis state: skipped a change stream entry that is not readable')
      } else if (change !== null) {
        deliver(change)
      }
      options.advanced(revision)
    }
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
    revision: () => lastRevision ?? 0,
    started,
    startedAfter: () => startRevision,
    gaps: () => gaps,
    stop() {
      stopped = true
    },
  }
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
