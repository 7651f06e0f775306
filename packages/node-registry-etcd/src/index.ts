export type { CreateEtcdNodeRegistryBackendOptions } from './etcd-backend.js'
export { createEtcdNodeRegistryBackend } from './etcd-backend.js'
