import {
  assertKey,
  assertNamespace,
  assertPattern,
  CoreError,
  createStderrLogger,
  type StateChange,
  type StateEntry,
  systemClock,
  toCoreError,
  type Undo,
} from '@core/contracts'
import type { PublishOptions } from '@core/event-bus'
import { createExpiryScheduler, type ExpiryItem } from './expiry-scheduler.js'
import { createMemoryStateBackend } from './memory-backend.js'
import { StateCounters } from './metrics.js'
import { checkRevision, checkTtl, conflict, TOPIC_ROOT, topicOf } from './state-checks.js'
import { freezeChange, freezeEntry, isThenable, ownCopy, stamped } from './state-values.js'
import type {
  BackendWriteResult,
  CreateStateEngineOptions,
  ListStateOptions,
  SetStateOptions,
  StateEngine,
  StateListItem,
} from './types.js'

/**
 * Creates a state engine: namespaced keys holding JSON values, each write giving the key a
 * new revision, optional TTLs, optimistic concurrency, and a change event on the bus for
 * every set, delete and expiry.
 *
 * **Events.** Each change publishes `state.<namespace>.<key>` whose `data` is a
 * `StateChange` `{ namespace, key, value?, previous?, revision, reason, updatedAt, expiresAt? }`
 * (`reason` is `set`, `delete` or `expired`; `value` is absent after a delete or expiry,
 * `previous` when the key did not exist; `updatedAt` is when the change was made, epoch ms, and
 * after a set the new entry's `updatedAt`, with its `expiresAt` when it has a TTL, so that a
 * set's event holds the whole new entry). `watch` is a bus subscription on `state.<namespace>.<keyPattern>`.
 *
 * **Order and delivery.** Writes to one key are serialised by the engine and their events
 * are handed to the bus in revision order, so every watcher sees one key's changes in revision
 * order. A write resolves once it is committed to the backend and its event is queued on the
 * bus (published with `wait: false`): it never waits for watchers, so a slow watcher never
 * blocks writers (its bus queue fills instead, per its overflow policy). With a backend that
 * answers directly, as the in-memory default does, the commit and the hand-off to the bus
 * happen inside the `set` call itself, so events also follow the order of the calls across
 * keys; with an async backend only the per-key order is guaranteed.
 *
 * **Revisions.** Taken from one counter for the whole store (the backend's): they only grow
 * per key and are never reused, even across delete and re-create (etcd's `mod_revision`).
 * `ifRevision: n` writes only if the key is at revision `n`; `ifRevision: 0` means "only if
 * the key does not exist" (create).
 *
 * **TTL.** One scheduler for all keys (a min-heap of deadlines and a single timer from the
 * clock). At expiry the key is removed and an `expired` change is published. `get`, `has` and
 * `list` never return an entry past its `expiresAt`, even before the timer has fired.
 *
 * **Values.** Must be JSON (RFC 8259). The engine stores a deep copy and freezes it: the
 * caller's object can change afterwards without effect, and the value, entry and change
 * objects handed out are deep-frozen, so mutating them throws a `TypeError` (ES modules run
 * in strict mode) instead of corrupting the store or what other watchers see.
 *
 * @param options - `bus` (required), `backend` (default: in memory), `clock` (default: the
 *   system clock), `logger` (default: stderr, warn+), `source` (default `/core/state`).
 * @returns The {@link StateEngine}. Every method rejects with `E_UNAVAILABLE` after `close()`.
 * @throws {@link @core/contracts!CoreError} `E_VALIDATION` if `options.bus` is not an event bus.
 * @see etcd v3 API (revisions, compare-and-swap); CloudEvents 1.0; AMQP 0-9-1 topic matching
 * @example
 * ```ts
 * import { createEventBus } from '@core/event-bus'
 * import { createStateEngine } from '@core/state-engine'
 *
 * const state = createStateEngine({ bus: createEventBus() })
 * state.watch('lights', 'kitchen.#', (change) => console.log(change.key, change.value, change.reason))
 * const { revision } = await state.set('lights', 'kitchen.main', { on: true })
 * await state.set('lights', 'kitchen.main', { on: false }, { ifRevision: revision })
 * await state.set('presence', 'hall', true, { ttlMs: 30_000 })
 * await state.close()
 * ```
 * @public
 */
export function createStateEngine(options: CreateStateEngineOptions): StateEngine {
  const bus = options?.bus
  if (typeof bus?.publish !== 'function' || typeof bus.subscribe !== 'function') {
    throw new CoreError(
      'E_VALIDATION',
      'createStateEngine needs { bus }: an event bus from createEventBus()',
      {
        details: { option: 'bus' },
      },
    )
  }
  const backend = options.backend ?? createMemoryStateBackend()
  const clock = options.clock ?? systemClock
  const logger = options.logger ?? createStderrLogger({ component: 'state-engine' })
  const publishOptions: PublishOptions = { source: options.source ?? '/core/state', wait: false }
  /** Per key: the promise of its latest write; the next write to that key starts after it. */
  const lanes = new Map<string, Promise<unknown>>()
  const watches = new Set<Undo>()
  let closed = false
  const counters = new StateCounters()

  const onPublishFailed = (error: unknown): void => {
    logger.error({ err: error }, 'state-engine: a state change could not be published on the bus')
  }

  const publish = (changes: StateChange[]): void => {
    for (const change of changes) {
      const frozen = freezeChange(change)
      try {
        bus
          .publish(`${TOPIC_ROOT}.${frozen.namespace}.${frozen.key}`, frozen, publishOptions)
          .then(undefined, onPublishFailed)
      } catch (error) {
        onPublishFailed(error)
      }
    }
  }

  const failed = (error: unknown, what: string, namespace: string, key: string): CoreError =>
    toCoreError(
      error,
      'E_STORAGE',
      `State backend failed to ${what} key "${key}" in namespace "${namespace}"`,
    )

  /**
   * Runs one backend write for `topic`'s key, then `finish` (which publishes), after every
   * earlier write to that key has settled: this keeps one key's events in revision order
   * whatever order an async backend answers in. A backend that answers directly (memory) and
   * finds no write of that key in flight is finished at once, inside the caller's call; only
   * writes that wait on a promise hold a lane, and the lane is forgotten when its last write
   * settles.
   */
  const write = <R>(
    topic: string,
    what: string,
    namespace: string,
    key: string,
    start: () => BackendWriteResult | Promise<BackendWriteResult>,
    finish: (result: BackendWriteResult) => R,
  ): Promise<R> => {
    const tail = lanes.get(topic)
    let begun: Promise<BackendWriteResult>
    if (tail === undefined) {
      let answer: BackendWriteResult | Promise<BackendWriteResult>
      try {
        answer = start()
      } catch (error) {
        return Promise.reject(failed(error, what, namespace, key))
      }
      if (!isThenable(answer)) {
        try {
          return Promise.resolve(finish(answer))
        } catch (error) {
          return Promise.reject(error)
        }
      }
      begun = answer
    } else {
      begun = tail.then(start, start)
    }
    const run: Promise<R> = begun.then(
      (result) => {
        if (lanes.get(topic) === run) lanes.delete(topic)
        return finish(result)
      },
      (error: unknown) => {
        if (lanes.get(topic) === run) lanes.delete(topic)
        throw failed(error, what, namespace, key)
      },
    )
    lanes.set(topic, run)
    return run
  }

  const expire = (item: ExpiryItem): void => {
    const { namespace, key, revision } = item
    let now = 0
    write(
      `${TOPIC_ROOT}.${namespace}.${key}`,
      'expire',
      namespace,
      key,
      () => {
        now = clock.now()
        return backend.expire(namespace, key, revision, now)
      },
      (result) => {
        counters.count(result.changes)
        if (result.reported !== true) publish(stamped(result.changes, now))
      },
    ).catch((error: unknown) => {
      logger.error({ err: error, namespace, key }, 'state-engine: expiring a state key failed')
    })
  }

  const scheduler = createExpiryScheduler(clock, expire)

  /** Changes a shared backend reports (rule 8 of the backend contract), in its order. */
  const stopShared = backend.subscribe?.((change) => publish([change]))

  /** Reads one key (directly or through a promise), hiding an entry past its `expiresAt`. */
  const read = <R>(
    namespace: string,
    key: string,
    shape: (entry: StateEntry | undefined) => R,
  ): Promise<R> => {
    let answer: StateEntry | undefined | Promise<StateEntry | undefined>
    try {
      open()
      topicOf(namespace, key)
      answer = backend.get(namespace, key)
    } catch (error) {
      return Promise.reject(CoreError.is(error) ? error : failed(error, 'get', namespace, key))
    }
    const live = (entry: StateEntry | undefined): R =>
      shape(
        entry === undefined || (entry.expiresAt !== undefined && entry.expiresAt <= clock.now())
          ? undefined
          : entry,
      )
    if (!isThenable(answer)) return Promise.resolve(live(answer))
    return answer.then(live, (error: unknown) => {
      throw failed(error, 'get', namespace, key)
    })
  }

  const open = (): void => {
    if (closed) {
      throw new CoreError(
        'E_UNAVAILABLE',
        'The state engine is closed; create a new one to use state again',
      )
    }
  }

  return {
    set<T>(namespace: string, key: string, value: T, setOptions?: SetStateOptions) {
      let topic: string
      let copy: unknown
      const ttlMs = setOptions?.ttlMs
      const ifRevision = setOptions?.ifRevision
      try {
        open()
        topic = topicOf(namespace, key)
        if (ttlMs !== undefined) checkTtl(ttlMs)
        if (ifRevision !== undefined) checkRevision(ifRevision)
        copy = ownCopy(value, namespace, key)
      } catch (error) {
        return Promise.reject(error)
      }
      let expiresAt: number | undefined
      let now = 0
      return write(
        topic,
        'set',
        namespace,
        key,
        () => {
          now = clock.now()
          expiresAt = ttlMs === undefined ? undefined : now + ttlMs
          return backend.set(namespace, key, copy, { now, expiresAt, ifRevision })
        },
        (result) => {
          if (!result.ok) throw conflict(namespace, key, ifRevision as number, result.actual)
          const entry = freezeEntry(result.entry as StateEntry)
          if (expiresAt === undefined) scheduler.cancel(namespace, key)
          else scheduler.schedule(namespace, key, entry.revision, expiresAt)
          counters.count(result.changes)
          if (result.reported !== true) publish(stamped(result.changes, now, entry))
          return entry as StateEntry<T>
        },
      )
    },

    get<T>(namespace: string, key: string) {
      return read(namespace, key, (entry) =>
        entry === undefined ? undefined : (freezeEntry(entry) as StateEntry<T>),
      )
    },

    has(namespace, key) {
      return read(namespace, key, (entry) => entry !== undefined)
    },

    delete(namespace, key, deleteOptions) {
      let topic: string
      const ifRevision = deleteOptions?.ifRevision
      try {
        open()
        topic = topicOf(namespace, key)
        if (ifRevision !== undefined) checkRevision(ifRevision)
      } catch (error) {
        return Promise.reject(error)
      }
      let now = 0
      return write(
        topic,
        'delete',
        namespace,
        key,
        () => {
          now = clock.now()
          return backend.delete(namespace, key, { now, ifRevision })
        },
        (result) => {
          if (!result.ok) throw conflict(namespace, key, ifRevision as number, result.actual)
          if (result.changes.length > 0) scheduler.cancel(namespace, key)
          counters.count(result.changes)
          if (result.reported !== true) publish(stamped(result.changes, now))
          return result.changes.some((change) => change.reason === 'delete')
        },
      )
    },

    list<T>(namespace: string, listOptions?: ListStateOptions) {
      const prefix = listOptions?.prefix
      let answer: StateListItem[] | Promise<StateListItem[]>
      try {
        open()
        assertNamespace(namespace, 'state namespace')
        if (prefix !== undefined) assertKey(prefix, 'key prefix')
        answer = backend.list(namespace, prefix)
      } catch (error) {
        return Promise.reject(
          CoreError.is(error) ? error : failed(error, 'list', namespace, prefix ?? '#'),
        )
      }
      const keep = (items: StateListItem[]): StateListItem<T>[] => {
        const now = clock.now()
        const out: StateListItem<T>[] = []
        for (const item of items) {
          if (item.expiresAt !== undefined && item.expiresAt <= now) continue
          out.push(freezeEntry(item) as StateListItem<T>)
        }
        return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
      }
      if (!isThenable(answer)) return Promise.resolve(keep(answer))
      return answer.then(keep, (error: unknown) => {
        throw failed(error, 'list', namespace, prefix ?? '#')
      })
    },

    watch(namespace, keyPattern, handler, watchOptions) {
      open()
      assertNamespace(namespace, 'state namespace')
      assertPattern(keyPattern, 'key pattern')
      const pattern = `${TOPIC_ROOT}.${namespace}.${keyPattern}`
      assertPattern(pattern, 'state watch pattern')
      if (typeof handler !== 'function') {
        throw new CoreError(
          'E_VALIDATION',
          `watch("${namespace}", "${keyPattern}") needs a handler function`,
          {
            details: { namespace, keyPattern },
          },
        )
      }
      let forged = 0
      const unsubscribe = bus.subscribe<StateChange>(
        pattern,
        (event) => {
          // The topic names the key; a change whose data names another key was not published
          // by this engine (only the kernel publishes `state.*`, but a bus shared with other
          // publishers may carry one): it is dropped, never trusted.
          const change = event.data as StateChange | undefined
          if (
            change === undefined ||
            change === null ||
            `${TOPIC_ROOT}.${change.namespace}.${change.key}` !== event.type
          ) {
            if (forged++ === 0) {
              logger.warn(
                { type: event.type, source: event.source },
                `state-engine: dropped a "${event.type}" event whose data names another key; state events are published by the state engine alone`,
              )
            }
            return
          }
          return handler(change as never, event as never)
        },
        watchOptions,
      )
      const undo = Object.assign(
        (): void => {
          watches.delete(undo)
          unsubscribe()
        },
        { [Symbol.dispose]: (): void => undo() },
      ) as Undo
      watches.add(undo)
      watchOptions?.signal?.addEventListener('abort', () => watches.delete(undo), { once: true })
      return undo
    },

    async close() {
      if (closed) return
      closed = true
      scheduler.stop()
      stopShared?.()
      for (const undo of [...watches]) undo()
      await Promise.allSettled(lanes.values())
    },

    stats: () => counters.snapshot(),
  }
}
