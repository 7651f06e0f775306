/// <reference types="node" preserve="true" />
/**
 * The node registry's etcd backend: passports under a prefix, liveness on etcd leases, membership
 * by watch.
 *
 * @module @core/node-registry-etcd
 */
export type { CreateEtcdNodeRegistryBackendOptions } from './etcd-backend.js'
export { createEtcdNodeRegistryBackend } from './etcd-backend.js'
