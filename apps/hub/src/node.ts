import { randomUUID } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Logger, NodePassport } from '@core/contracts'
import type { Kernel } from '@core/kernel'
import {
  createMemoryNodeRegistryBackend,
  createMemoryNodeStore,
  createNodeRegistry,
  type NodeLease,
  type NodeRegistry,
  type NodeRegistryBackend,
} from '@core/node-registry'
import type { NodeSettings } from './node-config.js'

/** The file in the data folder that keeps this hub's node uid across restarts. */
export const NODE_ID_FILE = 'node-id'

/** This hub in the node registry. */
export interface HubNode {
  readonly registry: NodeRegistry
  /** The settings it was made with (heartbeat interval and TTL, labels…). */
  readonly settings: NodeSettings
  /**
   * With the in-memory registry: a second backend on the registry's store, through which
   * passports learnt from other hubs (over MindBus) are put, heartbeaten with their TTL and
   * removed. `undefined` with etcd, where the registry is shared already.
   */
  readonly peers: NodeRegistryBackend | undefined
  /** This hub's lease, once `join()` resolved. */
  readonly lease: NodeLease | undefined
  /**
   * Registers this hub's passport (once; later calls return the same lease).
   * @param endpoint - The hub's HTTP URL, the passport's `spec.endpoint`.
   */
  join(endpoint: string | undefined): Promise<NodeLease>
  /**
   * Adds a step run before each update of this hub's capabilities in its passport (the
   * services it serves changed): MindBus binds the new namespaces there, so that no other hub
   * routes a call here before this hub consumes it. A step that fails is logged; the update
   * goes on. Returns its undo.
   */
  beforeAdvertise(step: () => Promise<void>): () => void
  /** Releases the passport (the node leaves the registry) and closes the registry. Idempotent. */
  stop(): Promise<void>
}

/** What {@link createHubNode} needs besides the settings. */
export interface CreateHubNodeOptions {
  dataDir: string
  logger: Logger
}

/**
 * Creates the node registry (in memory, or on etcd when `etcdUrl` is set; the etcd client is
 * imported only then) and makes it a `nodes` health component of the kernel (`degraded` while
 * the backend is unreachable). `join()` then registers this hub's passport: uid from `<dataDir>/node-id`
 * (created once), name and labels from the settings, `nodeType: hub`, the services it serves
 * as capabilities — kept up to date as plugins start, stop and reload. An unreachable registry
 * never fails the boot: the lease keeps retrying.
 */
export async function createHubNode(
  kernel: Kernel,
  settings: NodeSettings,
  options: CreateHubNodeOptions,
): Promise<HubNode> {
  const logger = options.logger.child({ component: 'nodes' })
  let backend: NodeRegistryBackend
  let peers: NodeRegistryBackend | undefined
  if (settings.etcdUrl !== undefined) {
    const { createEtcdNodeRegistryBackend } = await import('@core/node-registry-etcd')
    backend = createEtcdNodeRegistryBackend({ url: settings.etcdUrl, prefix: settings.etcdPrefix })
  } else {
    const store = createMemoryNodeStore()
    backend = createMemoryNodeRegistryBackend({ store })
    peers = createMemoryNodeRegistryBackend({ store })
  }
  const registry = createNodeRegistry({
    backend,
    heartbeatIntervalMs: settings.heartbeat.intervalMs,
    ttlMs: settings.heartbeat.ttlMs,
    gracePeriodMs: settings.heartbeat.gracePeriodMs,
    bus: kernel.bus,
    logger,
  })
  const removeHealthCheck = kernel.addHealthCheck('nodes', () => {
    const health = registry.health()
    return {
      status: health.status,
      details: {
        backend: health.backend,
        ...registry.counts(),
        ...(health.message ? { message: health.message } : {}),
      },
    }
  })
  const capabilities = (): NodePassport['spec']['capabilities'] => ({
    services: kernel.services.list().map((s) => ({ name: s.name, version: s.version })),
  })
  let lease: NodeLease | undefined
  let joining: Promise<NodeLease> | undefined
  // Plugins starting, stopping or reloading change what this hub serves: one update at a time,
  // and only when the list really changed.
  let updating: Promise<void> = Promise.resolve()
  const steps = new Set<() => Promise<void>>()
  const refresh = (): void => {
    updating = updating.then(async () => {
      if (lease === undefined) return
      let next = capabilities()
      if (JSON.stringify(next) === JSON.stringify(lease.passport.spec.capabilities)) return
      for (const step of steps) {
        await step().catch((error: unknown) => {
          logger.warn({ err: error }, 'a step before the capabilities update failed')
        })
      }
      next = capabilities()
      await lease.update({ capabilities: next }).catch((error: unknown) => {
        logger.warn({ err: error }, 'could not update the node capabilities')
      })
    })
  }
  const unsubscribe = kernel.bus.subscribe('core.plugin.#', () => refresh())
  const join = async (endpoint: string | undefined): Promise<NodeLease> => {
    const uid = await nodeId(options.dataDir)
    lease = await registry.register({
      apiVersion: 'core.runtime/v1',
      kind: 'NodePassport',
      metadata: { uid, name: settings.name, nodeType: 'hub', labels: settings.labels },
      spec: {
        capabilities: capabilities(),
        ...(endpoint === undefined ? {} : { endpoint }),
      },
      status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
    } satisfies NodePassport)
    refresh()
    return lease
  }

  let stopped: Promise<void> | undefined
  return {
    registry,
    settings,
    peers,
    get lease(): NodeLease | undefined {
      return lease
    },
    beforeAdvertise: (step) => {
      steps.add(step)
      return () => {
        steps.delete(step)
      }
    },
    join: (endpoint) => {
      joining ??= join(endpoint)
      return joining
    },
    stop: () => {
      stopped ??= (async () => {
        unsubscribe()
        await updating
        await joining?.catch(() => undefined)
        await lease?.release().catch((error: unknown) => {
          logger.warn({ err: error }, 'could not remove this node from the registry')
        })
        removeHealthCheck()
        await registry.close()
        await peers?.close()
      })()
      return stopped
    },
  }
}

/** This hub's node uid: read from `<dataDir>/node-id`, or generated and written there once. */
async function nodeId(dataDir: string): Promise<string> {
  const file = join(dataDir, NODE_ID_FILE)
  try {
    const text = (await readFile(file, 'utf8')).trim()
    if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(text)) return text
  } catch {
    // first boot: no file yet
  }
  const uid = randomUUID()
  await mkdir(dataDir, { recursive: true })
  await writeFile(file, `${uid}\n`)
  return uid
}
