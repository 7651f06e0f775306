/// <reference types="node" preserve="true" />
/**
 * In-process publish/subscribe with AMQP 0-9-1 topic patterns and CloudEvents envelopes.
 *
 * @module @core/event-bus
 */
export type { HandlerFailedData } from './event-bus.js'
export { createEventBus, DEFAULT_MAX_QUEUE, HANDLER_FAILED_EVENT } from './event-bus.js'
export { createEventBusMetrics } from './metrics.js'
export type { CreateTopicMatcherOptions, TopicMatcher } from './topic-pattern.js'
export { createTopicMatcher } from './topic-pattern.js'
export type {
  CreateEventBusOptions,
  EventBus,
  EventBusStats,
  EventHandler,
  OverflowPolicy,
  PublishOptions,
  PublishReport,
  SubscribeOptions,
} from './types.js'
