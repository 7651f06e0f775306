import { runStorageConformance } from '@core/storage/conformance'
import { createSqliteAdapter } from '../src/index.js'

runStorageConformance(() => createSqliteAdapter({ filename: ':memory:' }), { name: 'sqlite' })
