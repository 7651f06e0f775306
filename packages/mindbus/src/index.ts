export { createMindBus } from './mindbus.js'
export type {
  CallRoute,
  ControlHandler,
  ControlScope,
  ControlSignal,
  CreateMindBusOptions,
  LabelSelectorLike,
  MindBus,
  MindBusStats,
  MindBusTopology,
  NodeDirectory,
  NodeEntryLike,
} from './types.js'
