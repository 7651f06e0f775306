/// <reference types="node" preserve="true" />
/**
 * Service registration and calls: schema validation, middleware, deadlines, semver versions,
 * remote routing.
 *
 * @module @core/service-registry
 */
export { createServiceRegistry, DEFAULT_TIMEOUT_MS } from './service-registry.js'
export type {
  CallContext,
  CallMeta,
  CallObserver,
  CallOptions,
  CallOutcome,
  CreateServiceRegistryOptions,
  Middleware,
  RegisterOptions,
  RemoteCallRequest,
  RemoteReply,
  RemoteTransport,
  SchemaObject,
  ServiceContext,
  ServiceHandler,
  ServiceRegistry,
  Unregister,
} from './types.js'
