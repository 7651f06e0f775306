import type { Clock, CloudEvent, JsonSchema, Logger, Undo } from '@core/contracts'

/**
 * A subscriber's handler: receives the CloudEvents envelope. May return a promise; the
 * subscription's next event is delivered only after it settles (per-subscription FIFO).
 * The envelope and its `data` are shared with every other subscriber: treat them as read-only.
 * @public
 */
export type EventHandler<T = unknown> = (event: CloudEvent<T>) => void | Promise<void>

/** Options of {@link EventBus.publish}. @public */
export interface PublishOptions {
  /**
   * CloudEvents `source`: a non-empty URI-reference naming the producer, e.g. `/plugins/lights`.
   * @defaultValue the bus's `source` option, `/core`
   */
  source?: string
  /** CloudEvents `subject`: the thing the event is about, within `source` (non-empty). */
  subject?: string
  /** W3C Trace Context `traceparent` to carry (version 00, e.g. `00-<32 hex>-<16 hex>-01`). */
  traceparent?: string
  /** CloudEvents `id`, unique per `source` (non-empty). @defaultValue a random UUID (v4) */
  id?: string
  /** CloudEvents `time`, RFC 3339. @defaultValue now, from the bus's clock, in UTC */
  time?: string
  /**
   * `false` = fire and forget: `publish` resolves as soon as the event is queued to every
   * matching subscription, with `delivered` and `failed` counted as 0 (failures are still
   * logged, counted in `stats()` and re-published). @defaultValue true
   */
  wait?: boolean
}

/**
 * What {@link EventBus.publish} resolves with. With `wait` (the default),
 * `matched === delivered + failed + dropped`.
 * @public
 */
export interface PublishReport {
  /** The envelope's `id`. */
  id: string
  /** Number of subscriptions whose pattern matched the topic. */
  matched: number
  /** Handlers that settled without throwing or rejecting. */
  delivered: number
  /** Handlers that threw or rejected. */
  failed: number
  /**
   * Subscriptions that matched but never ran their handler on this event: their queue was
   * full (either overflow policy), or they were unsubscribed while the event was still queued.
   */
  dropped: number
}

/**
 * What a full subscription queue does with one more event:
 * - `drop-newest`: the new event is not queued to this subscription;
 * - `drop-oldest`: the oldest waiting event is removed to make room for the new one.
 * Either way the dropped event counts in `stats().dropped` and in its publish report, and the
 * first drop of an overflow episode is logged (and the total when the queue drains).
 * @public
 */
export type OverflowPolicy = 'drop-newest' | 'drop-oldest'

/** Options of {@link EventBus.subscribe}. @public */
export interface SubscribeOptions {
  /**
   * Most events waiting for this subscription's handler (the event being handled is not
   * counted). An integer ≥ 1. @defaultValue the bus's `maxQueue`, 10_000
   */
  maxQueue?: number
  /** What to drop when the queue is full. @defaultValue 'drop-newest' */
  overflow?: OverflowPolicy
  /** Aborting it removes the subscription; an already aborted signal subscribes nothing. */
  signal?: AbortSignal
  /** A label for logs, `core.bus.handler_failed` events and metrics (e.g. the plugin name). @defaultValue `subscription-<n>` */
  name?: string
}

/** Counters kept by the bus since it was created. @public */
export interface EventBusStats {
  /** Events accepted by `publish` (internal `core.bus.handler_failed` events included). */
  published: number
  /** Handler runs that settled without throwing. */
  delivered: number
  /** Handler runs that threw or rejected. */
  failed: number
  /** Events not queued to a subscription, or pushed out of it, because its queue was full. */
  dropped: number
  /** Queued events thrown away because their subscription was removed first. */
  discarded: number
  /** Events waiting in subscription queues now. */
  queued: number
  /** Live subscriptions. */
  subscriptions: number
}

/** Options of {@link createEventBus}. @public */
export interface CreateEventBusOptions {
  /** Default CloudEvents `source` (URI-reference). @defaultValue '/core' */
  source?: string
  /** Where handler failures and drops are logged. @defaultValue createStderrLogger() (warn and error to stderr) */
  logger?: Logger
  /** Time source for `time`. @defaultValue systemClock */
  clock?: Clock
  /** Default {@link SubscribeOptions.maxQueue}. An integer ≥ 1. @defaultValue 10_000 */
  maxQueue?: number
}

/**
 * In-process publish/subscribe on AMQP 0-9-1 topic patterns, carrying CloudEvents 1.0
 * envelopes. See {@link createEventBus} and the package README for the guarantees.
 * @public
 */
export interface EventBus {
  /**
   * Builds a CloudEvents 1.0 envelope for `data` (`type` = the topic) and queues it to every
   * subscription whose pattern matches. Never runs a handler before it returns.
   * Resolves, by default once every matching handler has settled, with a {@link PublishReport};
   * rejects with `E_VALIDATION` (and delivers nothing) for a malformed topic or option or data
   * that fails the type's schema.
   * @param type - The topic: dot-separated words of `[A-Za-z0-9_%-]`, at most 255 bytes and 32 words.
   * @param data - The payload; JSON expected. Deep-frozen in place once per publish (not
   *   copied), so every subscriber gets the same immutable value and no one (the publisher
   *   included) can change it afterwards. Data holding typed arrays, `Map`, `Set` or `Date`,
   *   which freezing cannot lock, reaches each subscriber as its own structured clone. The
   *   envelope itself is frozen too.
   * @throws {@link @core/contracts!CoreError} `E_VALIDATION` (as a rejection), with Ajv paths in `details.errors`
   *   when the data fails its schema.
   * @see CloudEvents 1.0; W3C Trace Context
   * @example
   * ```ts
   * const { delivered } = await bus.publish('lights.kitchen.changed', { on: true })
   * ```
   */
  publish<T = unknown>(type: string, data: T, options?: PublishOptions): Promise<PublishReport>
  /**
   * Calls `handler` with every event whose topic matches `pattern`, one at a time, in publish
   * order. Returns the undo.
   * @param pattern - AMQP 0-9-1 topic pattern: `*` matches one word, `#` zero or more.
   * @throws {@link @core/contracts!CoreError} `E_VALIDATION` for a malformed pattern, handler or option.
   * @see AMQP 0-9-1 topic exchange (RabbitMQ semantics)
   * @example
   * ```ts
   * using sub = bus.subscribe('lights.#', (event) => console.log(event.data))
   * ```
   */
  subscribe<T = unknown>(
    pattern: string,
    handler: EventHandler<T>,
    options?: SubscribeOptions,
  ): Undo
  /**
   * Registers a JSON Schema (2020-12) for the `data` of one event type; returns its undo.
   * @throws {@link @core/contracts!CoreError} `E_CONFLICT` if the type already has a schema.
   * @throws {@link @core/contracts!CoreError} `E_VALIDATION` for a malformed type or schema.
   * @see JSON Schema 2020-12
   * @example
   * ```ts
   * bus.defineEvent('lights.kitchen.changed', { type: 'object', required: ['on'] })
   * ```
   */
  defineEvent(type: string, schema: JsonSchema): Undo
  /** A copy of the bus's counters, for metrics. */
  stats(): EventBusStats
}
