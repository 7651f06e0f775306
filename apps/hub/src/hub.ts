import { join, resolve } from 'node:path'
import type { Logger } from '@core/contracts'
import {
  createHttpServer,
  type HttpAddress,
  type HttpServer,
  registerControlRoutes,
  registerNodeRoutes,
} from '@core/http'
import {
  type BootReport,
  createKernel,
  type HealthReport,
  type Kernel,
  type StopReport,
} from '@core/kernel'
import type { MqttBridge } from '@core/mqtt'
import type { RedisStateBackend } from '@core/redis'
import type { Storage } from '@core/storage'
import {
  clusterControlSender,
  createLateTransport,
  type HubCluster,
  startCluster,
} from './cluster.js'
import { APP_DIR, type HubConfig } from './config.js'
import { createHubLogger } from './logger.js'
import { connectBridge, createHubBridge, type MqttStatus } from './mqtt-boot.js'
import { createHubNode, type HubNode } from './node.js'
import { warnPolicyGaps } from './policy-config.js'
import { addRedisHealth, openRedisState } from './redis.js'
import { openHubSigning } from './signing-config.js'
import { openStorage } from './storage-select.js'

/** A booted hub. */
export interface RunningHub {
  readonly kernel: Kernel
  readonly storage: Storage
  /** The HTTP API, listening. */
  readonly http: HttpServer
  /** Where the HTTP API listens (`url` is `http://host:port`). */
  readonly address: HttpAddress
  readonly mqtt: MqttStatus
  /** The Redis state backend, when `CORE_REDIS_URL` / `redis.url` is set (its `redis` health component). */
  readonly redis: RedisStateBackend | undefined
  /** This hub in the node registry (`node.registry` answers `findNodes`). */
  readonly node: HubNode
  /** Cluster mode (MindBus), when `CORE_AMQP_URL` / `mindbus.url` is set. */
  readonly cluster: HubCluster | undefined
  /** What `kernel.start()` reported. */
  readonly report: BootReport
  /**
   * The admin token created by this boot (auth on, no token stored yet, no `CORE_ADMIN_TOKEN`):
   * its only appearance; the store keeps its hash. `undefined` otherwise.
   */
  readonly bootstrapToken: string | undefined
  /** `kernel.health()`, which includes the bridge's `mqtt` component (degraded while disconnected). */
  health(): Promise<HealthReport>
  /**
   * Stops in reverse order: releases this hub's passport, closes the HTTP server, stops the MQTT bridge (`offline` on
   * `<prefix>/status`), stops the kernel (plugins in reverse order, under the shutdown
   * deadline), closes the storage. Idempotent: later calls return the first call's promise.
   */
  stop(): Promise<StopReport>
}

/** Options of {@link startHub}. */
export interface StartHubOptions {
  /** @defaultValue {@link createHubLogger} at `config.logLevel` */
  logger?: Logger
  /** The package.json whose dependencies carrying `corePlugin` are plugins too. @defaultValue the app's */
  hostPackage?: string
  /**
   * Called when a `ctl.<all|role|node>.shutdown` control signal arrives (cluster mode), with the
   * sender's uid. `runHub` stops the hub as for SIGTERM and exits.
   * @defaultValue stops the hub (`stop()`)
   */
  onShutdownRequest?: (from: string) => void
  /** Reads the config again for `ctl.*.config` (`runHub` passes its own loader). @defaultValue none: the signal is logged */
  loadConfig?: () => Promise<HubConfig>
}

/** The name of the admin token the first boot creates. */
export const BOOTSTRAP_TOKEN_NAME = 'admin (first boot)'

/**
 * Boots the hub: opens the storage; creates the kernel with the configured plugin folders,
 * explicit plugins, per-plugin config and timeouts; creates the MQTT bridge before the kernel
 * starts (so plugins find the `mqtt.*` services in setup); starts the kernel; connects the
 * bridge, waiting at most `mqtt.startWaitMs` (a broker that is down does not fail the boot:
 * a warning is logged, the bridge keeps reconnecting in the background and health says
 * `degraded`); creates the node registry (memory, or etcd with `CORE_ETCD_URL`: a `nodes`
 * health component, `degraded` while unreachable, never failing the boot) and its HTTP routes;
 * starts the HTTP API and registers this hub's passport; and, with auth on, no token stored and no
 * `CORE_ADMIN_TOKEN`, creates the first admin token (returned once as `bootstrapToken`).
 *
 * @throws {@link @core/contracts!CoreError} what {@link openStorage}, `kernel.start()` (a required plugin
 *   failed), `createMqttBridge` (`E_VALIDATION`) or the HTTP `listen()` (`E_UNAVAILABLE`: the
 *   port is taken) throws; whatever was started is stopped again first.
 */
export async function startHub(
  config: HubConfig,
  options: StartHubOptions = {},
): Promise<RunningHub> {
  const logger = options.logger ?? createHubLogger(config.logLevel)
  const redis = config.redis === undefined ? undefined : await openRedisState(config.redis, logger)
  let storage: Storage
  try {
    storage = await openStorage(config.storage, config.redis)
  } catch (error) {
    await redis?.close()
    throw error
  }
  const signing = openHubSigning(config.signing, config.redis, logger)
  const remote = config.mindbus === undefined ? undefined : createLateTransport()
  const kernel = createKernel({
    ...(remote === undefined ? {} : { remote }),
    hostPackage: options.hostPackage ?? resolve(APP_DIR, 'package.json'),
    pluginDirs: config.pluginDirs,
    plugins: config.plugins,
    required: config.required,
    config: config.pluginConfig,
    storage,
    persistState: config.persistState,
    ...(redis === undefined ? {} : { stateBackend: redis }),
    logger,
    watch: config.watch,
    containFaults: true,
    ...(config.policy === undefined ? {} : { policy: config.policy.document }),
    // `process` plugins write only to <dataDir>/plugins/<name>, away from hub.db and node-id.
    isolation: { dataDir: join(config.dataDir, 'plugins') },
    ...(config.lifecycleTimeoutMs === undefined
      ? {}
      : { lifecycleTimeoutMs: config.lifecycleTimeoutMs }),
    ...(config.shutdownTimeoutMs === undefined
      ? {}
      : { shutdownTimeoutMs: config.shutdownTimeoutMs }),
  })

  warnPolicyGaps(config.policy, logger, { cluster: config.mindbus !== undefined })
  let bridge: MqttBridge | undefined
  let http: HttpServer | undefined
  let node: HubNode | undefined
  let cluster: HubCluster | undefined
  let running: RunningHub | undefined
  const teardown = async (): Promise<void> => {
    await cluster?.stop().catch(() => undefined)
    await node?.stop().catch(() => undefined)
    await http?.close().catch(() => undefined)
    await bridge?.stop().catch(() => undefined)
    await kernel.stop().catch(() => undefined)
    await storage.close().catch(() => undefined)
    await redis?.close().catch(() => undefined)
    await signing?.close()
  }

  try {
    const hubBridge = createHubBridge(kernel, config, logger, () => http, signing?.mqtt)
    bridge = hubBridge.bridge
    if (redis !== undefined && config.redis !== undefined)
      addRedisHealth(kernel, redis, config.redis)
    redis?.metrics.register(kernel.metrics)
    const report = await kernel.start()
    const mqtt = await connectBridge(bridge, config.mqtt.startWaitMs, logger, hubBridge.lastError)
    // The bridge reports itself as the `mqtt` component of kernel.health().
    const health = (): Promise<HealthReport> => kernel.health()
    http = createHttpServer(kernel, {
      auth: config.http.auth,
      host: config.http.host,
      port: config.http.port,
      publicRoutes: config.http.publicRoutes,
      loopbackMeta: config.http.loopbackMeta,
      authFailures: config.http.authFailures,
      ...(config.adminToken === undefined ? {} : { adminToken: config.adminToken }),
    })
    node = await createHubNode(kernel, config.node, { dataDir: config.dataDir, logger })
    registerNodeRoutes(http, node.registry)
    // The route exists before the cluster is joined (routes are fixed at listen()).
    registerControlRoutes(
      http,
      clusterControlSender(config, () => cluster),
    )
    const address = await http.listen()
    await node.join(address.url)
    if (config.mindbus !== undefined && remote !== undefined) {
      cluster = await startCluster(config.mindbus, {
        kernel,
        node,
        transport: remote,
        logger,
        loadConfig: options.loadConfig,
        signing: signing?.mindbus,
        onShutdown: (signal) => {
          if (options.onShutdownRequest !== undefined) options.onShutdownRequest(signal.from)
          else void running?.stop()
        },
      })
    }
    let bootstrapToken: string | undefined
    if (config.http.auth && config.adminToken === undefined) {
      const tokens = await http.tokens.list()
      if (tokens.length === 0) {
        const created = await http.tokens.create({ name: BOOTSTRAP_TOKEN_NAME, scopes: ['admin'] })
        bootstrapToken = created.token
        logger.warn(
          { tokenId: created.id },
          'no API token existed: created an admin token, printed once on stdout',
        )
      }
    }

    const server = http
    const hubNode = node
    const hubCluster = cluster
    let stopped: Promise<StopReport> | undefined
    running = {
      kernel,
      storage,
      http: server,
      address,
      mqtt,
      redis,
      node: hubNode,
      cluster: hubCluster,
      report,
      bootstrapToken,
      health,
      stop: () => {
        stopped ??= (async () => {
          await hubCluster?.stop()
          await hubNode.stop()
          await server.close()
          await bridge?.stop()
          const result = await kernel.stop()
          await storage.close()
          await redis?.close()
          await signing?.close()
          return result
        })()
        return stopped
      },
    }
    return running
  } catch (error) {
    await teardown()
    throw error
  }
}
