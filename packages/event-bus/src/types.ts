import type { CloudEvent, Clock, JsonSchema, Logger } from '@core/contracts'

/**
 * A subscriber's handler: receives the CloudEvents envelope. May return a promise; the
 * subscription's next event is delivered only after it settles (per-subscription FIFO).
 * @public
 */
export type EventHandler<T = unknown> = (event: CloudEvent<T>) => void | Promise<void>

/**
 * The undo of a registration: call it (or `using` it) to remove the registration.
 * Calling it twice is harmless.
 * @public
 */
export type Unsubscribe = (() => void) & Disposable

/** Options of {@link EventBus.publish}. @public */
export interface PublishOptions {
  /** CloudEvents `source` (URI-reference). @defaultValue the bus's `source` option, `/core` */
  source?: string
  /** CloudEvents `subject`. */
  subject?: string
  /** W3C `traceparent` to carry. */
  traceparent?: string
  /** CloudEvents `id`. @defaultValue a random UUID */
  id?: string
  /** CloudEvents `time` (RFC 3339). @defaultValue now */
  time?: string
  /**
   * `false` = fire and forget: `publish` resolves as soon as the event is queued to every
   * matching subscription, with `delivered`/`failed` counted as 0. @defaultValue true
   */
  wait?: boolean
}

/** What {@link EventBus.publish} resolves with. @public */
export interface PublishReport {
  /** The envelope's `id`. */
  id: string
  /** Number of subscriptions that matched. */
  matched: number
  /** Handlers that settled without throwing. */
  delivered: number
  /** Handlers that threw or rejected. */
  failed: number
  /** Subscriptions whose queue was full, so this event was not queued to them. */
  dropped: number
}

/** How a subscription's queue behaves when full. @public */
export type OverflowPolicy = 'drop-newest' | 'drop-oldest'

/** Options of {@link EventBus.subscribe}. @public */
export interface SubscribeOptions {
  /** Most events waiting for this subscription's handler. @defaultValue 10_000 */
  maxQueue?: number
  /** What to drop when the queue is full. @defaultValue 'drop-newest' */
  overflow?: OverflowPolicy
  /** Aborting it removes the subscription. */
  signal?: AbortSignal
  /** A label for logs and metrics (e.g. the plugin name). */
  name?: string
}

/** Counters kept by the bus since it was created. @public */
export interface EventBusStats {
  published: number
  delivered: number
  failed: number
  dropped: number
  subscriptions: number
}

/** Options of {@link createEventBus}. @public */
export interface CreateEventBusOptions {
  /** Default CloudEvents `source`. @defaultValue '/core' */
  source?: string
  /** Where handler failures and drops are logged. @defaultValue a stderr logger (warn+) */
  logger?: Logger
  /** Time source for `time`. @defaultValue systemClock */
  clock?: Clock
  /** Default {@link SubscribeOptions.maxQueue}. @defaultValue 10_000 */
  maxQueue?: number
}

/**
 * In-process publish/subscribe on AMQP 0-9-1 topic patterns, carrying CloudEvents 1.0
 * envelopes. See the package README for the guarantees.
 * @public
 */
export interface EventBus {
  publish<T = unknown>(type: string, data: T, options?: PublishOptions): Promise<PublishReport>
  subscribe<T = unknown>(pattern: string, handler: EventHandler<T>, options?: SubscribeOptions): Unsubscribe
  /** Registers a payload schema for one event type; returns its undo. */
  defineEvent(type: string, schema: JsonSchema): Unsubscribe
  /** Counters for metrics. */
  stats(): EventBusStats
}
