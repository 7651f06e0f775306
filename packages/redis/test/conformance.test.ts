import { runStateBackendConformance } from '@core/state-engine/conformance'
import { createRedisStateBackend, type RedisStateBackend } from '../src/index.js'
import { describeWithRedis, freshPrefix, TEST_REDIS_URL } from './redis-server.js'

describeWithRedis('redis state backend', () => {
  runStateBackendConformance(
    async () => {
      const backend = createRedisStateBackend({
        url: TEST_REDIS_URL,
        keyPrefix: freshPrefix(),
        sweepIntervalMs: 0,
      })
      await backend.ready()
      return backend
    },
    { name: 'redis', dispose: (backend) => (backend as RedisStateBackend).close() },
  )
})
