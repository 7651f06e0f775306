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
} from './types.js'
