/// <reference types="node" preserve="true" />
/**
 * Core Runtime's shared contracts: TypeBox schemas, derived types, CoreError and its codes.
 *
 * @module @core/contracts
 */
// TypeBox's `Type` builder and its `Static`/`TSchema` types, re-exported so that schemas for
// services and events can be written without installing `typebox` next to `@core/*`, and with
// the very TypeBox version the contracts use (JSON Schema 2020-12).
export type { Static, TSchema } from 'typebox'
export { Type } from 'typebox'
export type { Clock } from './clock.js'
export { systemClock } from './clock.js'
export type { CoreErrorCode, CoreErrorOptions, SerializedCoreError } from './errors.js'
export { CORE_ERROR_CODES, CORE_ERROR_TITLES, CoreError, toCoreError } from './errors.js'
export type { CloudEvent } from './event.js'
export { CLOUD_EVENT_REQUIRED_ATTRIBUTES, CloudEventSchema } from './event.js'
export { deepFreeze, toShareable } from './freeze.js'
export type { JsonValue } from './json.js'
export { cloneJson } from './json.js'
export type { LogFn, Logger, RateLimitedLogger, RateLimitedOptions } from './logger.js'
export { createStderrLogger, rateLimited, silentLogger } from './logger.js'
export type {
  PluginIsolation,
  PluginManifest,
  PluginPermissions,
  PluginResourceLimits,
} from './manifest.js'
export {
  PLUGIN_NAME_PATTERN,
  PluginIsolationSchema,
  PluginManifestSchema,
  PluginPermissionsSchema,
  PluginResourceLimitsSchema,
} from './manifest.js'
export type {
  ComponentMetrics,
  CreateHistogramFamilyOptions,
  HistogramFamily,
  HistogramSeries,
  MetricRegistry,
  MetricSnapshot,
  MetricSource,
  MetricValue,
} from './metrics.js'
export { componentMetrics, createHistogramFamily, metricOf } from './metrics.js'
export type { MqttMessageData } from './mqtt-topics.js'
export {
  assertMqttFilter,
  assertMqttTopic,
  filterToPattern,
  levelToWord,
  MAX_MQTT_TOPIC_BYTES,
  MESSAGE_EVENT_PREFIX,
  MqttMessageDataSchema,
  mqttTopicMatches,
  topicToWords,
  wordsToTopic,
  wordToLevel,
} from './mqtt-topics.js'
export {
  assertKey,
  assertNamespace,
  assertPattern,
  assertPublishableTopic,
  assertServiceName,
  assertTopic,
  isKernelTopic,
  KERNEL_TOPIC_NAMESPACES,
  MAX_TOPIC_BYTES,
  MAX_WORDS,
  NAMESPACE_PATTERN,
  namespaceOf,
  WORD_PATTERN,
} from './names.js'
export type {
  NodeCapabilities,
  NodeCondition,
  NodeLabels,
  NodePassport,
  NodePhase,
  NodeStatus,
} from './node-passport.js'
export {
  LABEL_KEY_PATTERN,
  LABEL_VALUE_PATTERN,
  NODE_PASSPORT_API_VERSION,
  NODE_PASSPORT_API_VERSION_PATTERN,
  NodeCapabilitiesSchema,
  NodeConditionSchema,
  NodeLabelsSchema,
  NodePassportSchema,
  NodePhaseSchema,
  NodeStatusSchema,
  QUANTITY_PATTERN,
} from './node-passport.js'
export type { PolicyDocument, PolicyRule } from './policy.js'
export {
  POLICY_ACTION_PATTERN,
  POLICY_SUBJECT_PATTERN,
  PolicyDocumentSchema,
  PolicyRuleSchema,
} from './policy.js'
export type { JsonSchema, ServiceDescriptor } from './service.js'
export { JsonSchemaSchema, ServiceDescriptorSchema } from './service.js'
export type { StateChange, StateChangeReason, StateEntry } from './state.js'
export { StateChangeReasonSchema, StateChangeSchema, StateEntrySchema } from './state.js'
export type { TraceParent } from './trace.js'
export { isTraceparent, nextTraceparent, parseTraceparent } from './trace.js'
export type { Undo } from './undo.js'
export type { ValidationIssue } from './validation.js'
export { validationError } from './validation.js'
