/// <reference types="node" preserve="true" />
/**
 * Service registration and calls: schema validation, middleware, deadlines, semver versions,
 * remote routing.
 *
 * @module @core/service-registry
 */
export { createServiceRegistryMetrics } from './metrics.js'
export { createServiceRegistry, DEFAULT_TIMEOUT_MS } from './service-registry.js'
export type {
  CallContext,
  CallMeta,
  CallObserver,
  CallOptions,
  CallOutcome,
  CircuitBreakerOptions,
  CircuitState,
  CreateServiceRegistryOptions,
  Middleware,
  RegisterOptions,
  RemoteCallRequest,
  RemoteReply,
  RemoteRetryOptions,
  RemoteTransport,
  SchemaObject,
  ServiceContext,
  ServiceHandler,
  ServiceRegistry,
  ServiceRegistryStats,
} from './types.js'
