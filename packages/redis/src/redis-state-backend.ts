import { randomUUID } from 'node:crypto'
import { CoreError, createStderrLogger, type StateEntry, systemClock } from '@core/contracts'
import type { BackendWriteResult, StateBackendListener, StateListItem } from '@core/state-engine'
import type { Redis } from 'ioredis'
import { type ChangeOrder, createChangeOrder, type OwnChange } from './change-order.js'
import { type ChangeStream, startChangeStream, stateKeys } from './change-stream.js'
import { connect, duplicate, redisError } from './connection.js'
import { changesOf, entryOf, plain, type ScriptReply, whole } from './entry-replies.js'
import { DELETE_SCRIPT, EXPIRE_SCRIPT, SET_SCRIPT } from './lua-scripts.js'
import { createRedisMetrics } from './metrics.js'
import { createEntryReader } from './read-batch.js'
import type { RedisStateBackend, RedisStateBackendOptions } from './types.js'

/** The scripts, as ioredis custom commands (EVALSHA, with EVAL on `NOSCRIPT`). */
interface ScriptedRedis extends Redis {
  coreStateSet(...args: (string | number)[]): Promise<ScriptReply>
  coreStateDelete(...args: (string | number)[]): Promise<ScriptReply>
  coreStateExpire(...args: (string | number)[]): Promise<ScriptReply>
}

/**
 * Creates a {@link @core/state-engine!StateBackend} on Redis (ioredis) for `createStateEngine({ backend })`, so
 * that several hubs share one state: a key set on hub A is read, watched and compare-and-set on
 * hub B through the same `ctx.state` API.
 *
 * **Keys** (under `keyPrefix`, default `core:`; nothing outside it is touched):
 * `state:revision` (the store-wide counter), `state:v:<namespace>:<key>` (a hash: `v` the JSON
 * value, `r` revision, `u` updatedAt, `e` expiresAt), `state:i:<namespace>` (the namespace's
 * index: a sorted set of its keys, all scored 0, so `ZRANGEBYLEX` lists a prefix in key order
 * without `KEYS` or `SCAN`), `state:deadlines` (a sorted set of due times), `state:namespaces`
 * and `state:changes` (the change stream).
 *
 * **Writes** are Lua scripts (loaded once, run by `EVALSHA`, sent again on `NOSCRIPT`): each
 * checks `ifRevision`, takes the next revision with `INCR`, writes the entry and its indexes
 * and appends the change to the stream in one atomic step, so two hubs racing on a key get
 * exactly one winner and one `E_CONFLICT`, and revisions never repeat across hubs or restarts.
 *
 * **TTL.** An entry with `expiresAt` gets a Redis `PX` of its TTL plus `expiryGraceMs` (a
 * safety net) and a row in `state:deadlines`. The sweeper of every attached backend claims due
 * rows with the expire script, which removes the entry only if it is still due, so an expiry
 * happens once across all hubs: one revision, one `expired` change on the stream.
 *
 * **Change events.** When an engine attaches (`subscribe`), the backend reads the stream from
 * its end on a second connection and reports the changes written by other backends (and by any
 * sweeper) to the engine, which publishes them on its bus. The changes of its own writes are
 * reported from the script's reply (the write resolves after one round trip, `reported: true`),
 * at once when the key's earlier changes have reached this hub, else once the reader has read
 * them: every hub sees each change once, in revision order per key. See the package README
 * for the rules, catch-up, trimming and `ownReadPauseMs`.
 *
 * **Unavailability.** While Redis is down every call rejects at once with `E_UNAVAILABLE`
 * (ioredis' offline queue is off), and the connection reconnects by itself.
 *
 * @param options - `url` or `client`, and `keyPrefix`, `streamMaxLen`, `sweepIntervalMs`,
 *   `expiryGraceMs`, `blockMs`, `ownReadPauseMs`, `clock`, `logger` ({@link RedisStateBackendOptions}).
 * @returns The backend; call `close()` when done (the engine does not).
 * @throws {@link @core/contracts!CoreError} `E_VALIDATION` for a missing or malformed `url`/`client` or option.
 *   Its calls reject with `E_UNAVAILABLE` while Redis is unreachable and `E_STORAGE` when Redis
 *   fails or a key under the prefix is not a state entry (the message names the key).
 * @see Redis `EVALSHA`, `XADD`/`XREAD` (Redis Streams); etcd v3 `mod_revision`
 * @example
 * ```ts
 * import { createEventBus } from '@core/event-bus'
 * import { createRedisStateBackend } from '@core/redis'
 * import { createStateEngine } from '@core/state-engine'
 *
 * const backend = createRedisStateBackend({ url: 'redis://127.0.0.1:6379' })
 * await backend.ready()
 * const state = createStateEngine({ bus: createEventBus(), backend })
 * await state.set('lights', 'kitchen', { on: true }, { ttlMs: 60_000 })
 * await state.close()
 * await backend.close()
 * ```
 * @public
 */
export function createRedisStateBackend(options: RedisStateBackendOptions): RedisStateBackend {
  const keyPrefix = options?.keyPrefix ?? 'core:'
  const streamMaxLen = whole(options?.streamMaxLen, 100_000, 'streamMaxLen', 1)
  const sweepIntervalMs = whole(options?.sweepIntervalMs, 500, 'sweepIntervalMs', 0)
  const graceMs = whole(options?.expiryGraceMs, 600_000, 'expiryGraceMs', 0)
  const blockMs = whole(options?.blockMs, 1_000, 'blockMs', 1)
  const ownReadPauseMs = whole(options?.ownReadPauseMs, 10, 'ownReadPauseMs', 0)
  if (typeof keyPrefix !== 'string' || keyPrefix.length === 0) {
    throw new CoreError('E_VALIDATION', 'keyPrefix must be a non-empty string, such as "core:"', {
      details: { option: 'keyPrefix' },
    })
  }
  const { client, owned } = connect(options, 'createRedisStateBackend')
  const redis = client as ScriptedRedis
  redis.defineCommand('coreStateSet', { numberOfKeys: 6, lua: SET_SCRIPT })
  redis.defineCommand('coreStateDelete', { numberOfKeys: 6, lua: DELETE_SCRIPT })
  redis.defineCommand('coreStateExpire', { numberOfKeys: 6, lua: EXPIRE_SCRIPT })
  const clock = options.clock ?? systemClock
  const logger = options.logger ?? createStderrLogger({ component: 'redis-state' })
  const keys = stateKeys(keyPrefix)
  const metrics = createRedisMetrics()
  const readEntry = createEntryReader(client, () => metrics.time('get'))
  const id = randomUUID()
  const onReady = (): void => metrics.connected(true)
  const onDown = (): void => metrics.connected(false)
  client.on('ready', onReady)
  client.on('close', onDown)
  metrics.connected(client.status === 'ready')
  let reader: Redis | undefined
  let stream: ChangeStream | undefined
  /** Puts the attached engine's changes in order (see change-order.ts); set while attached. */
  let order: ChangeOrder | undefined
  let sweeper: ReturnType<typeof setInterval> | undefined
  let closed: Promise<void> | undefined

  /** Stops the reader and the sweeper; changes still held back are dropped with the engine. */
  const detach = (): void => {
    if (sweeper !== undefined) clearInterval(sweeper)
    sweeper = undefined
    stream?.stop()
    stream = undefined
    order = undefined
    reader?.disconnect()
    reader = undefined
  }

  /**
   * Sends one write script. Once an engine is attached, its changes go to the engine through
   * `order` (delivered at once after the reply when that keeps the key's revision order, or
   * held until the stream reader has read the earlier changes) and the result says
   * `reported: true`; the write itself never waits for the reader.
   */
  const write = async (
    namespace: string,
    key: string,
    send: () => Promise<ScriptReply>,
    result: (reply: ScriptReply) => { base: BackendWriteResult; own: OwnChange[] },
  ): Promise<BackendWriteResult> => {
    const attached = order
    attached?.begin(namespace, key)
    let reply: ScriptReply
    try {
      reply = await send()
    } catch (error) {
      attached?.end(namespace, key, undefined)
      throw error
    }
    const { base, own } = result(reply)
    if (attached === undefined || attached !== order) {
      attached?.end(namespace, key, undefined)
      return base
    }
    attached.end(namespace, key, own)
    base.reported = true
    return base
  }

  /** Runs one round trip, timed, with its failure mapped to a CoreError. */
  const call = async <R>(op: string, doing: () => string, work: () => Promise<R>): Promise<R> => {
    const done = metrics.time(op)
    try {
      if (closed !== undefined) {
        throw new CoreError('E_UNAVAILABLE', 'The Redis state backend is closed')
      }
      const result = await work()
      done()
      return result
    } catch (error) {
      const mapped = redisError(error, client, doing())
      done(mapped.code)
      throw mapped
    }
  }

  const entryKeys = (namespace: string, key: string): string[] => [
    keys.entry(namespace, key),
    keys.counter,
    keys.index(namespace),
    keys.deadlines,
    keys.stream,
    keys.namespaces,
  ]

  const toEntry = (reply: (string | null)[], namespace: string, key: string): StateEntry =>
    entryOf(keys, reply, namespace, key)

  const sweep = async (): Promise<void> => {
    const now = clock.now()
    const due = await call(
      'sweep',
      () => 'find due TTLs',
      () => client.zrangebyscore(keys.deadlines, '-inf', now, 'LIMIT', 0, 100),
    )
    for (const member of due) {
      const at = member.indexOf(':')
      const namespace = member.slice(0, at)
      const key = member.slice(at + 1)
      // Origin '' : every backend, this one included, reports the expiry from the stream.
      await call(
        'expire',
        () => `expire key "${key}" in namespace "${namespace}"`,
        () =>
          redis.coreStateExpire(
            ...entryKeys(namespace, key),
            namespace,
            key,
            '',
            now,
            '',
            streamMaxLen,
          ),
      )
    }
  }

  return {
    id,
    metrics,

    get(namespace, key) {
      // Not through `call`: the reads of one tick share a round trip, timed once by readEntry.
      const failed = (error: unknown): never => {
        const mapped = redisError(error, client, `read key "${key}" in namespace "${namespace}"`)
        metrics.failed('get', mapped.code)
        throw mapped
      }
      if (closed !== undefined) {
        return Promise.reject(new CoreError('E_UNAVAILABLE', 'The Redis state backend is closed'))
      }
      return readEntry(keys.entry(namespace, key)).then((reply) => {
        if (reply[0] === null && reply[1] === null) return undefined
        try {
          return toEntry(reply, namespace, key)
        } catch (error) {
          return failed(error)
        }
      }, failed)
    },

    list(namespace, prefix) {
      return call(
        'list',
        () => `list namespace "${namespace}"`,
        async () => {
          const names =
            prefix === undefined
              ? await client.zrange(keys.index(namespace), 0, -1)
              : (
                  await client.zrangebylex(keys.index(namespace), `[${prefix}`, `[${prefix}.\xff`)
                ).filter((key) => key === prefix || key.startsWith(`${prefix}.`))
          if (names.length === 0) return []
          const pipeline = client.pipeline()
          for (const key of names) pipeline.hmget(keys.entry(namespace, key), 'v', 'r', 'u', 'e')
          const replies = (await pipeline.exec()) ?? []
          const out: StateListItem[] = []
          for (const [i, [error, reply]] of replies.entries()) {
            const key = names[i] as string
            if (error !== null) throw redisError(error, client, `read key "${key}"`)
            const fields = reply as (string | null)[]
            // A key whose entry Redis dropped (its safety-net PX) is skipped.
            if (fields[0] === null && fields[1] === null) continue
            out.push({ key, ...toEntry(fields, namespace, key) })
          }
          return out
        },
      )
    },

    set(namespace, key, newValue, { now, expiresAt, ifRevision }) {
      return call(
        'set',
        () => `write key "${key}" in namespace "${namespace}"`,
        () =>
          write(
            namespace,
            key,
            () =>
              redis.coreStateSet(
                ...entryKeys(namespace, key),
                namespace,
                key,
                JSON.stringify(newValue),
                now,
                expiresAt ?? '',
                ifRevision ?? '',
                id,
                streamMaxLen,
                graceMs,
              ),
            (reply) => {
              const [ok, actual, revision = 0] = reply
              if (ok !== 1) return { base: { ok: false, actual, changes: [] }, own: [] }
              const entry: StateEntry =
                expiresAt === undefined
                  ? { value: newValue, revision, updatedAt: now }
                  : { value: newValue, revision, updatedAt: now, expiresAt }
              const own = changesOf(reply, namespace, key, 'set', newValue)
              return { base: { ok: true, actual, entry, changes: plain(own) }, own }
            },
          ),
      )
    },

    delete(namespace, key, { now, ifRevision }) {
      return call(
        'delete',
        () => `delete key "${key}" in namespace "${namespace}"`,
        () =>
          write(
            namespace,
            key,
            () =>
              redis.coreStateDelete(
                ...entryKeys(namespace, key),
                namespace,
                key,
                now,
                ifRevision ?? '',
                id,
                streamMaxLen,
              ),
            (reply) => {
              if (reply[0] !== 1) {
                return { base: { ok: false, actual: reply[1], changes: [] }, own: [] }
              }
              const own = changesOf(reply, namespace, key, 'delete')
              return { base: { ok: true, actual: reply[1], changes: plain(own) }, own }
            },
          ),
      )
    },

    expire(namespace, key, revision, now) {
      return call(
        'expire',
        () => `expire key "${key}" in namespace "${namespace}"`,
        () =>
          write(
            namespace,
            key,
            () =>
              redis.coreStateExpire(
                ...entryKeys(namespace, key),
                namespace,
                key,
                revision,
                now,
                id,
                streamMaxLen,
              ),
            (reply) => {
              const own = changesOf(reply, namespace, key, undefined)
              return { base: { ok: true, actual: reply[1], changes: plain(own) }, own }
            },
          ),
      )
    },

    subscribe(listener: StateBackendListener) {
      if (stream !== undefined) {
        throw new CoreError(
          'E_CONFLICT',
          'This Redis state backend already serves a state engine; create one backend per engine',
        )
      }
      const attached = createChangeOrder({ listener, logger })
      order = attached
      reader = duplicate(client, `core-state-stream-${id}`)
      stream = startChangeStream({
        reader,
        keys,
        blockMs,
        ownPauseMs: ownReadPauseMs,
        origin: id,
        order: attached,
        metrics,
        logger,
      })
      if (sweepIntervalMs > 0) {
        let running = false
        sweeper = setInterval(() => {
          if (running || client.status !== 'ready') return
          running = true
          sweep()
            .catch((error: unknown) => {
              logger.warn({ err: error }, 'redis state: sweeping due TTLs failed; will retry')
            })
            .finally(() => {
              running = false
            })
        }, sweepIntervalMs)
        sweeper.unref?.()
      }
      return detach
    },

    ready(timeoutMs = 5_000) {
      if (client.status === 'ready') return Promise.resolve()
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          client.off('ready', done)
          reject(
            new CoreError(
              'E_UNAVAILABLE',
              `Redis did not answer within ${timeoutMs} ms (${client.status}); it keeps reconnecting in the background`,
            ),
          )
        }, timeoutMs)
        const done = (): void => {
          clearTimeout(timer)
          resolve()
        }
        client.once('ready', done)
      })
    },

    status() {
      return {
        connected: client.status === 'ready',
        status: client.status,
        streamId: stream?.position() ?? '',
        gaps: stream?.gaps() ?? 0,
      }
    },

    close() {
      closed ??= (async () => {
        detach()
        client.off('ready', onReady)
        client.off('close', onDown)
        if (owned) await client.quit().catch(() => client.disconnect())
      })()
      return closed
    },
  }
}
