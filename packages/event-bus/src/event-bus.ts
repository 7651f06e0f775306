import {
  type CloudEvent,
  CoreError,
  createStderrLogger,
  deepFreeze,
  type JsonSchema,
  type SerializedCoreError,
  systemClock,
  toShareable,
  type Undo,
} from '@core/contracts'
import { assertSource, createEnvelopeBuilder } from './envelope.js'
import { SchemaRegistry } from './schemas.js'
import {
  Delivery,
  lastResolver,
  pendingReport,
  Subscription,
  settle,
  type Waiter,
} from './subscription.js'
import { createTopicMatcher, normalizePattern } from './topic-pattern.js'
import type {
  CreateEventBusOptions,
  EventBus,
  EventBusStats,
  EventHandler,
  OverflowPolicy,
  PublishOptions,
  PublishReport,
  SubscribeOptions,
} from './types.js'

/**
 * The event type the bus publishes when a handler throws or rejects. Its `data`:
 * `{ subscription, pattern, event: { id, type, source }, error }`, where `error` is the JSON
 * form of a `CoreError` with code `E_HANDLER` whose `cause` is what the handler threw.
 * A handler that fails on one of these events is logged only, never re-published.
 * @public
 */
export const HANDLER_FAILED_EVENT = 'core.bus.handler_failed'

/** Default {@link SubscribeOptions.maxQueue}. @public */
export const DEFAULT_MAX_QUEUE = 10_000

/** The `data` of a {@link HANDLER_FAILED_EVENT} event. @public */
export interface HandlerFailedData {
  /** The failing subscription's name. */
  subscription: string
  /** Its pattern. */
  pattern: string
  /** The event it failed on. */
  event: { id: string; type: string; source: string }
  /** `CoreError` JSON, code `E_HANDLER`, with the thrown value as `cause`. */
  error: SerializedCoreError
}

/**
 * Creates an in-process event bus: publish/subscribe on dot-separated topics with AMQP 0-9-1
 * topic patterns (`*` one word, `#` zero or more), carrying CloudEvents 1.0 envelopes.
 *
 * Guarantees:
 * - **Async delivery.** No handler runs inside `publish`'s call stack; delivery starts on a
 *   later microtask.
 * - **Per-subscription FIFO.** Each subscription has its own queue and runs one event at a
 *   time, in publish order; a handler's promise is awaited before its next event. Different
 *   subscriptions run independently, so a slow handler delays only its own subscription.
 * - **Bounded queues.** At most `maxQueue` events wait per subscription (default 10,000); when
 *   full, `overflow` `'drop-newest'` (default) skips the new event for that subscription,
 *   `'drop-oldest'` removes its oldest waiting event. Drops are counted (`stats().dropped`,
 *   the report's `dropped`) and logged once per overflow episode.
 * - **Failure isolation.** A handler that throws or rejects is counted, logged and reported as
 *   a `core.bus.handler_failed` event; its subscription goes on with the next event and other
 *   subscriptions are unaffected. Failures of handlers of `core.bus.handler_failed` itself are
 *   logged only (no recursion).
 * - **Reports.** `publish` resolves with `{ id, matched, delivered, failed, dropped }` once
 *   every matching handler has settled, or at once with `{ wait: false }`.
 * - **No copy.** `data` is passed by reference, as mitt and emittery do: every subscriber sees
 *   the same envelope and `data` object, so handlers must not modify them.
 *
 * @param options - `source` (default `/core`), `logger` (default stderr, warn+), `clock`,
 *   `maxQueue` (default 10,000).
 * @returns An {@link EventBus}.
 * @throws {@link @core/contracts!CoreError} `E_VALIDATION` for a malformed option.
 * @see CloudEvents 1.0; AMQP 0-9-1 topic exchange; W3C Trace Context
 * @example
 * ```ts
 * const bus = createEventBus({ source: '/plugins/lights' })
 * const off = bus.subscribe('devices.*.kitchen.#', (event) => console.log(event.type, event.data))
 * const report = await bus.publish('devices.light.kitchen.changed', { on: true })
 * // report: { id: '…', matched: 1, delivered: 1, failed: 0, dropped: 0 }
 * off()
 * ```
 * @public
 */
export function createEventBus(options: CreateEventBusOptions = {}): EventBus {
  const source = options.source ?? '/core'
  assertSource(source, 'bus option source')
  const defaultMaxQueue = options.maxQueue ?? DEFAULT_MAX_QUEUE
  assertMaxQueue(defaultMaxQueue, 'bus option maxQueue')
  const logger = (options.logger ?? createStderrLogger()).child({ component: 'event-bus' })
  const build = createEnvelopeBuilder(source, options.clock ?? systemClock)
  const matcher = createTopicMatcher<Subscription>()
  const schemas = new SchemaRegistry(logger)
  const validators = schemas.validators
  const counters: EventBusStats = {
    published: 0,
    delivered: 0,
    failed: 0,
    dropped: 0,
    discarded: 0,
    queued: 0,
    subscriptions: 0,
  }
  let subscriptionCount = 0

  /**
   * Queues `event` to `sub`, applying its overflow policy; false if the event was dropped
   * (`drop-newest` on a full queue).
   */
  const offer = (sub: Subscription, event: CloudEvent, waiter: Waiter): boolean => {
    if (sub.size >= sub.maxQueue) {
      if (sub.overflow === 'drop-newest') {
        overflowed(sub, event)
        return false
      }
      const oldest = sub.firstEvent()
      const lost = sub.firstWaiter()
      sub.shift()
      counters.queued--
      overflowed(sub, oldest)
      settle(lost, oldest.id, 'dropped')
    }
    sub.push(event, waiter)
    counters.queued++
    if (!sub.running) {
      sub.running = true
      // A reaction on a settled promise: the cheapest way onto the microtask queue (`run`
      // catches what handlers throw, so the derived promise never rejects).
      void RESOLVED.then(sub.run)
    }
    return true
  }

  const overflowed = (sub: Subscription, event: CloudEvent): void => {
    counters.dropped++
    if (sub.overflowDrops++ === 0) {
      safeLog(
        'warn',
        {
          subscription: sub.name,
          pattern: sub.pattern,
          maxQueue: sub.maxQueue,
          overflow: sub.overflow,
          event: event.id,
          type: event.type,
        },
        `Subscription "${sub.name}" (${sub.pattern}) is full (${sub.maxQueue} events waiting); dropping its ${sub.overflow === 'drop-newest' ? 'newest' : 'oldest'} events until it catches up`,
      )
    }
  }

  /**
   * Runs `sub`'s handler on its queued events, one at a time. Synchronous handlers are run in
   * a loop; on the first promise it returns, and resumes from that promise's callbacks (made
   * once per subscription), so a delivery allocates no closure and no async frame.
   */
  const drain = (sub: Subscription): void => {
    while (sub.size > 0) {
      const event = sub.firstEvent()
      const waiter = sub.firstWaiter()
      sub.shift()
      counters.queued--
      let result: unknown
      try {
        result = sub.handler(event)
      } catch (thrown) {
        failed(sub, event, waiter, thrown)
        continue
      }
      if (
        result !== undefined &&
        result !== null &&
        typeof (result as PromiseLike<unknown>).then === 'function'
      ) {
        sub.current = event
        sub.currentWaiter = waiter
        sub.awaiting = true
        try {
          ;(result as PromiseLike<unknown>).then(sub.resolved, sub.rejected)
        } catch (thrown) {
          sub.rejected(thrown)
        }
        return
      }
      delivered(event, waiter)
    }
    sub.running = false
    if (sub.overflowDrops > 0) caughtUp(sub)
  }

  const delivered = (event: CloudEvent, waiter: Waiter): void => {
    counters.delivered++
    settle(waiter, event.id, 'delivered')
  }

  const failed = (sub: Subscription, event: CloudEvent, waiter: Waiter, thrown: unknown): void => {
    counters.failed++
    settle(waiter, event.id, 'failed')
    handlerFailed(sub, event, thrown)
  }

  const caughtUp = (sub: Subscription): void => {
    safeLog(
      'warn',
      { subscription: sub.name, pattern: sub.pattern, dropped: sub.overflowDrops },
      `Subscription "${sub.name}" (${sub.pattern}) caught up after dropping ${sub.overflowDrops} events`,
    )
    sub.overflowDrops = 0
  }

  const handlerFailed = (sub: Subscription, event: CloudEvent, thrown: unknown): void => {
    const reason = thrown instanceof Error ? thrown.message : String(thrown)
    const error = new CoreError(
      'E_HANDLER',
      `Handler of subscription "${sub.name}" (${sub.pattern}) failed on event "${event.type}" ${event.id}: ${reason}`,
      {
        cause: thrown,
        details: {
          subscription: sub.name,
          pattern: sub.pattern,
          event: event.id,
          type: event.type,
        },
      },
    )
    safeLog(
      'error',
      {
        err: error,
        subscription: sub.name,
        pattern: sub.pattern,
        event: event.id,
        type: event.type,
      },
      error.message,
    )
    if (event.type === HANDLER_FAILED_EVENT) return
    const data: HandlerFailedData = {
      subscription: sub.name,
      pattern: sub.pattern,
      event: { id: event.id, type: event.type, source: event.source },
      error: error.toJSON(),
    }
    try {
      const subs = matcher.match(HANDLER_FAILED_EVENT)
      schemas.check(HANDLER_FAILED_EVENT, data)
      deepFreeze(data)
      const failure = Object.freeze(
        build(
          HANDLER_FAILED_EVENT,
          data,
          event.traceparent === undefined
            ? { subject: sub.name }
            : { subject: sub.name, traceparent: event.traceparent },
        ),
      )
      counters.published++
      for (let i = 0; i < subs.length; i++) offer(subs[i] as Subscription, failure, null)
    } catch (internal) {
      safeLog('error', { err: internal }, `Could not publish ${HANDLER_FAILED_EVENT}`)
    }
  }

  const safeLog = (
    level: 'warn' | 'error',
    fields: Record<string, unknown>,
    message: string,
  ): void => {
    try {
      logger[level](fields, message)
    } catch {
      // A broken logger must not break delivery.
    }
  }

  const publish = <T>(type: string, data: T, options?: PublishOptions): Promise<PublishReport> => {
    let subs: readonly Subscription[]
    let event: CloudEvent
    // True when `data` is deeply frozen, so every subscriber may get the same envelope.
    let shared = true
    try {
      subs = matcher.match(type)
      if (validators.size !== 0) schemas.check(type, data)
      let payload: unknown = data
      if (typeof data === 'object' && data !== null && !deepFreeze(data)) {
        shared = false
        payload = toShareable(data, `data of event "${type}"`)
      }
      event = Object.freeze(build(type, payload, options))
    } catch (error) {
      return Promise.reject(error)
    }
    counters.published++
    const matched = subs.length
    if (matched === 0) {
      return Promise.resolve({ id: event.id, matched: 0, delivered: 0, failed: 0, dropped: 0 })
    }
    if (!shared && matched > 1) return publishCopies(subs, event, options)
    if (options !== undefined && options.wait === false) {
      let dropped = 0
      for (let i = 0; i < matched; i++) if (!offer(subs[i] as Subscription, event, null)) dropped++
      return Promise.resolve({ id: event.id, matched, delivered: 0, failed: 0, dropped })
    }
    const promise = pendingReport()
    const resolve = lastResolver()
    if (matched === 1) {
      // The common case: the resolver itself waits in the queue, no bookkeeping object.
      if (!offer(subs[0] as Subscription, event, resolve)) settle(resolve, event.id, 'dropped')
      return promise
    }
    const delivery = new Delivery(event.id, matched, resolve)
    let dropped = 0
    for (let i = 0; i < matched; i++)
      if (!offer(subs[i] as Subscription, event, delivery)) dropped++
    if (dropped > 0) delivery.count('dropped', dropped)
    return promise
  }

  /**
   * The rare path of {@link publish}: data that freezing cannot lock (typed arrays, Map, Set,
   * Date) goes to each subscriber as its own structured clone, so none can change another's.
   */
  const publishCopies = (
    subs: readonly Subscription[],
    event: CloudEvent,
    options: PublishOptions | undefined,
  ): Promise<PublishReport> => {
    const matched = subs.length
    const copyFor = (i: number): CloudEvent =>
      i === 0 ? event : Object.freeze({ ...event, data: toShareable(structuredClone(event.data)) })
    if (options !== undefined && options.wait === false) {
      let dropped = 0
      for (let i = 0; i < matched; i++) {
        if (!offer(subs[i] as Subscription, copyFor(i), null)) dropped++
      }
      return Promise.resolve({ id: event.id, matched, delivered: 0, failed: 0, dropped })
    }
    const promise = pendingReport()
    const delivery = new Delivery(event.id, matched, lastResolver())
    let dropped = 0
    for (let i = 0; i < matched; i++) {
      if (!offer(subs[i] as Subscription, copyFor(i), delivery)) dropped++
    }
    if (dropped > 0) delivery.count('dropped', dropped)
    return promise
  }

  const subscribe = <T>(
    pattern: string,
    handler: EventHandler<T>,
    options: SubscribeOptions = {},
  ): Undo => {
    if (typeof handler !== 'function') {
      throw new CoreError(
        'E_VALIDATION',
        `Invalid handler for pattern ${JSON.stringify(pattern)}: use a function`,
        {
          details: { pattern },
        },
      )
    }
    const maxQueue = options.maxQueue ?? defaultMaxQueue
    assertMaxQueue(maxQueue, 'subscribe option maxQueue')
    const overflow: OverflowPolicy = options.overflow ?? 'drop-newest'
    if (overflow !== 'drop-newest' && overflow !== 'drop-oldest') {
      throw new CoreError(
        'E_VALIDATION',
        `Invalid subscribe option overflow ${JSON.stringify(overflow)}: use "drop-newest" or "drop-oldest"`,
        {
          details: { option: 'overflow' },
        },
      )
    }
    const name = options.name ?? `subscription-${++subscriptionCount}`
    if (typeof name !== 'string' || name.length === 0) {
      throw new CoreError(
        'E_VALIDATION',
        `Invalid subscribe option name ${JSON.stringify(name)}: use a non-empty string`,
        {
          details: { option: 'name' },
        },
      )
    }
    const signal = options.signal
    const sub = new Subscription(pattern, name, handler as EventHandler, maxQueue, overflow)
    if (signal?.aborted) {
      normalizePattern(pattern) // still refuse a malformed pattern
      return makeUndo(noop)
    }
    matcher.add(pattern, sub) // throws E_VALIDATION for a malformed pattern
    counters.subscriptions++
    sub.run = () => drain(sub)
    // The settle callbacks of a handler's promise; `awaiting` makes them count once each,
    // whatever a foreign thenable does.
    sub.resolved = () => {
      if (!sub.awaiting) return
      sub.awaiting = false
      const event = sub.current as CloudEvent
      const waiter = sub.currentWaiter
      sub.current = undefined
      sub.currentWaiter = null
      delivered(event, waiter)
      drain(sub)
    }
    sub.rejected = (thrown: unknown) => {
      if (!sub.awaiting) return
      sub.awaiting = false
      const event = sub.current as CloudEvent
      const waiter = sub.currentWaiter
      sub.current = undefined
      sub.currentWaiter = null
      failed(sub, event, waiter, thrown)
      drain(sub)
    }
    const unsubscribe = (): void => {
      if (sub.closed) return
      sub.closed = true
      matcher.remove(pattern, sub)
      counters.subscriptions--
      sub.detach()
      while (sub.size > 0) {
        const event = sub.firstEvent()
        const waiter = sub.firstWaiter()
        sub.shift()
        counters.queued--
        counters.discarded++
        settle(waiter, event.id, 'dropped')
      }
    }
    if (signal !== undefined) {
      signal.addEventListener('abort', unsubscribe, { once: true })
      sub.detach = () => signal.removeEventListener('abort', unsubscribe)
    }
    return makeUndo(unsubscribe)
  }

  const defineEvent = (type: string, schema: JsonSchema): Undo =>
    makeUndo(schemas.define(type, schema))

  const stats = (): EventBusStats => ({ ...counters })

  return { publish, subscribe, defineEvent, stats }
}

const RESOLVED: Promise<void> = Promise.resolve()

function makeUndo(undo: () => void): Undo {
  let done = false
  const once = (): void => {
    if (done) return
    done = true
    undo()
  }
  return Object.assign(once, { [Symbol.dispose]: once }) as Undo
}

function noop(): void {}

function assertMaxQueue(value: unknown, subject: string): void {
  if (!Number.isSafeInteger(value) || (value as number) < 1) {
    throw new CoreError(
      'E_VALIDATION',
      `Invalid ${subject} ${JSON.stringify(value)}: use an integer >= 1`,
      {
        details: { option: 'maxQueue' },
      },
    )
  }
}
