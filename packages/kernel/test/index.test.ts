import { describe, expect, it } from 'vitest'
import * as api from '../src/index.js'

describe('@core/kernel public surface', () => {
  it('should export exactly these values', () => {
    expect(Object.keys(api).sort()).toMatchInlineSnapshot(`
      [
        "CORE_API_VERSION",
        "DEFAULT_LIFECYCLE_TIMEOUT_MS",
        "DEFAULT_SHUTDOWN_TIMEOUT_MS",
        "DEFAULT_STALL_THRESHOLD_MS",
        "PERSISTED_STATE_STORAGE_NAMESPACE",
        "SECURITY_DENIED_EVENT",
        "compilePolicy",
        "createKernel",
        "createPersistentStateBackend",
        "definePlugin",
        "patternContains",
        "patternsOverlap",
        "persistedStateKey",
      ]
    `)
  })

  it('should return the definition unchanged from definePlugin', () => {
    const definition = { setup() {} }
    expect(api.definePlugin(definition)).toBe(definition)
  })

  it('should expose the kernel and its components', async () => {
    const kernel = api.createKernel({ logger: (await import('@core/contracts')).silentLogger })
    expect(Object.keys(kernel).sort()).toEqual([
      'addHealthCheck',
      'apiVersion',
      'bus',
      'health',
      'logger',
      'metrics',
      'plugins',
      'security',
      'services',
      'start',
      'state',
      'stats',
      'stop',
      'storage',
    ])
    expect(Object.keys(kernel.plugins).sort()).toEqual([
      'get',
      'list',
      'load',
      'reload',
      'start',
      'stop',
      'unload',
    ])
    expect(kernel.apiVersion).toBe(api.CORE_API_VERSION)
    await kernel.stop()
  })

  it('should refuse malformed options with E_VALIDATION', () => {
    expect(() => api.createKernel({ lifecycleTimeoutMs: -1 })).toThrowError(
      /Invalid kernel option lifecycleTimeoutMs/,
    )
    expect(() => api.createKernel({ shutdownTimeoutMs: 0 })).toThrowError(/shutdownTimeoutMs/)
    expect(() => api.createKernel({ pluginDirs: 'plugins' as unknown as string[] })).toThrowError(
      /pluginDirs: use an array/,
    )
  })
})
