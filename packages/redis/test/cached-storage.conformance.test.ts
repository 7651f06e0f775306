import { runStorageConformance } from '@core/storage/conformance'
import { createPostgresAdapter } from '@core/storage-postgres'
import { createSqliteAdapter } from '@core/storage-sqlite'
import {
  describeWithServer,
  freshSchema,
  TEST_URL,
} from '../../storage-postgres/test/postgres-server.js'
import { createCachedStorageAdapter } from '../src/index.js'
import { describeWithRedis, freshPrefix, TEST_REDIS_URL } from './redis-server.js'

describeWithRedis('cached storage adapter', () => {
  runStorageConformance(
    async () =>
      createCachedStorageAdapter(await createSqliteAdapter({ filename: ':memory:' }), {
        redis: TEST_REDIS_URL,
        keyPrefix: freshPrefix(),
      }),
    { name: 'redis cache in front of sqlite' },
  )

  describeWithServer('in front of postgres', () => {
    runStorageConformance(
      async () =>
        createCachedStorageAdapter(
          await createPostgresAdapter({ url: TEST_URL, schema: freshSchema(), max: 4 }),
          { redis: TEST_REDIS_URL, keyPrefix: freshPrefix() },
        ),
      { name: 'redis cache in front of postgres' },
    )
  })
})
