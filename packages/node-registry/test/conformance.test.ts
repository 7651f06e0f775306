import { runNodeRegistryConformance } from '@core/node-registry/conformance'
import { createMemoryNodeRegistryBackend, createMemoryNodeStore } from '../src/index.js'

runNodeRegistryConformance(
  async () => {
    const store = createMemoryNodeStore()
    return () => createMemoryNodeRegistryBackend({ store })
  },
  { name: 'memory' },
)
