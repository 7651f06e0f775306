/// <reference types="node" preserve="true" />
/**
 * MindBus over RabbitMQ for the Core Runtime: remote service calls, events and control signals
 * between hubs.
 *
 * @module @core/mindbus
 */
export { createMindBus } from './mindbus.js'
export type {
  CallRoute,
  ControlHandler,
  ControlScope,
  ControlSignal,
  CreateMindBusOptions,
  LabelSelectorLike,
  MindBus,
  MindBusAction,
  MindBusAuthorize,
  MindBusCaller,
  MindBusSigningOptions,
  MindBusStats,
  MindBusTopology,
  NodeDirectory,
  NodeEntryLike,
} from './types.js'
