import { runNodeRegistryConformance } from '@core/node-registry/conformance'
import { createEtcdNodeRegistryBackend } from '../src/index.js'
import { describeWithEtcd, ETCD_URL, freshPrefix } from './etcd-server.js'

// etcd leases count whole seconds with a floor of about 2 s: the suite runs with a 2 s TTL.
describeWithEtcd('etcd backend', () => {
  runNodeRegistryConformance(
    async () => {
      const prefix = freshPrefix()
      return () => createEtcdNodeRegistryBackend({ url: ETCD_URL, prefix })
    },
    { name: 'etcd', ttlMs: 2_000 },
  )
})
