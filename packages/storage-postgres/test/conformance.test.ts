import { runStorageConformance } from '@core/storage/conformance'
import { createPostgresAdapter } from '../src/index.js'
import { describeWithServer, freshSchema, TEST_URL } from './postgres-server.js'

// Every adapter gets a fresh schema on the real server; all are dropped when the file ends.
describeWithServer('postgres adapter', () => {
  runStorageConformance(
    () => createPostgresAdapter({ url: TEST_URL, schema: freshSchema(), max: 4 }),
    { name: 'postgres' },
  )
})
