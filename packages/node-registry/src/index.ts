/// <reference types="node" preserve="true" />
/**
 * Node passports, heartbeat leases, health states and Kubernetes label selectors, with an
 * in-memory backend and the backend conformance suite.
 *
 * @module @core/node-registry
 */
export type {
  NodeBackendChange,
  NodeRecord,
  NodeRegistryBackend,
  NodeSnapshotEntry,
} from './backend.js'
export type {
  LabelSelector,
  LabelSelectorOperator,
  LabelSelectorRequirement,
} from './label-selector.js'
export {
  compileLabelSelector,
  labelKeyProblem,
  labelValueProblem,
  matchLabelSelector,
  validateLabelSelector,
} from './label-selector.js'
export type {
  CreateMemoryNodeRegistryBackendOptions,
  CreateMemoryNodeStoreOptions,
  MemoryNodeStore,
} from './memory-backend.js'
export { createMemoryNodeRegistryBackend, createMemoryNodeStore } from './memory-backend.js'
export {
  createNodeRegistry,
  DEFAULT_GRACE_PERIOD_MS,
  DEFAULT_HEARTBEAT_INTERVAL_MS,
  DEFAULT_NODE_TTL_MS,
} from './node-registry.js'
export type { NodePassportConverters } from './passport.js'
export { validatePassport } from './passport.js'
export type { Quantity } from './quantity.js'
export { assertQuantity, compareQuantities, parseQuantity } from './quantity.js'
export { formatLabelSelector, parseLabelSelector } from './selector-syntax.js'
export type {
  CreateNodeRegistryOptions,
  FindNodesOptions,
  NodeEntry,
  NodeHealthState,
  NodeLease,
  NodeLeasePatch,
  NodeRegistry,
  NodeRegistryEvent,
  NodeRegistryHealth,
} from './types.js'
