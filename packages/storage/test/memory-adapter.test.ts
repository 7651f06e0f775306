import { runStorageConformance } from '../src/conformance.js'
import { createMemoryAdapter } from '../src/index.js'

runStorageConformance(async () => createMemoryAdapter(), { name: 'memory' })
