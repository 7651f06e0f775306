import { resolve } from 'node:path'
import { CoreError, type Logger } from '@core/contracts'
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
  type PluginInfo,
  type StopReport,
} from '@core/kernel'
import { createMqttBridge, type MqttBridge } from '@core/mqtt'
import type { RedisStateBackend } from '@core/redis'
import { createStorage, type Storage } from '@core/storage'
import pino from 'pino'
import pretty from 'pino-pretty'
import { createLateTransport, type HubCluster, startCluster } from './cluster.js'
import { APP_DIR, type HubConfig, type StorageConfig } from './config.js'
import type { LogLevel } from './config-schema.js'
import { createMqttCallAuthorizer, describeMqttCalls } from './mqtt-calls.js'
import { createHubNode, type HubNode } from './node.js'
import { addRedisHealth, describeRedis, openRedisState, withRedisCache } from './redis.js'
import type { RedisSettings } from './redis-config.js'
import { openHubSigning } from './signing-config.js'

/** The MQTT side of a booted hub, as the startup summary reports it. */
export interface MqttStatus {
  /** The bridge, or `undefined` when `mqtt.enabled` is false. */
  readonly bridge: MqttBridge | undefined
  /** Whether the first connection was made during the boot. */
  readonly connectedAtBoot: boolean
  /** Why it was not (the broker's error, or the wait that ran out). */
  readonly error: string | undefined
}

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

/**
 * The hub's default logger: pino at `level` on stderr, as human-readable lines (pino-pretty,
 * coloured) when stderr is a terminal, as pino's JSON lines otherwise (a file, a pipe, journald,
 * a container log), so that logs and the startup summary on stdout read well on one screen.
 *
 * @param level - pino level, or `silent`.
 * @param isTerminal - Whether stderr is a terminal. @defaultValue process.stderr.isTTY
 */
export function createHubLogger(
  level: LogLevel,
  isTerminal: boolean = process.stderr.isTTY === true,
): Logger {
  const destination = isTerminal
    ? pretty({ destination: 2, sync: true, colorize: true, translateTime: 'SYS:HH:MM:ss.l' })
    : pino.destination({ dest: 2, sync: true })
  return pino({ name: 'core', level }, destination) as unknown as Logger
}

/** The name of the admin token the first boot creates. */
export const BOOTSTRAP_TOKEN_NAME = 'admin (first boot)'

/**
 * Opens the storage the config names: SQLite at `<dataDir>/hub.db` (the folder is created) with
 * the configured `synchronous` setting, or PostgreSQL when a database URL is set, behind the
 * Redis read cache when `redis.storageCache` is on. Each driver is imported only when used.
 * @throws {@link @core/contracts!CoreError} `E_STORAGE` when the database cannot be opened; `E_VALIDATION` for a bad URL.
 */
export async function openStorage(config: StorageConfig, redis?: RedisSettings): Promise<Storage> {
  if (config.kind === 'sqlite') {
    const { createSqliteAdapter } = await import('@core/storage-sqlite')
    return createStorage(
      await withRedisCache(
        await createSqliteAdapter({ filename: config.filename, synchronous: config.synchronous }),
        redis,
      ),
    )
  }
  const { createPostgresAdapter } = await import('@core/storage-postgres')
  const adapter = await createPostgresAdapter({
    url: config.url,
    ...(config.schema === undefined ? {} : { schema: config.schema }),
  })
  return createStorage(await withRedisCache(adapter, redis))
}

/** `sqlite /data/hub.db` or `postgres host:5432/db` (never the credentials). */
export function describeStorage(config: StorageConfig): string {
  if (config.kind === 'sqlite') {
    return `sqlite ${config.filename}${config.synchronous === 'FULL' ? ' (synchronous FULL)' : ''}`
  }
  const target = config.url.replace(/^postgres(ql)?:\/\/([^@/]*@)?/, '').replace(/[?#].*$/, '')
  return `postgres ${target}${config.schema === undefined ? '' : ` (schema ${config.schema})`}`
}

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
    ...(config.lifecycleTimeoutMs === undefined
      ? {}
      : { lifecycleTimeoutMs: config.lifecycleTimeoutMs }),
    ...(config.shutdownTimeoutMs === undefined
      ? {}
      : { shutdownTimeoutMs: config.shutdownTimeoutMs }),
  })

  let bridge: MqttBridge | undefined
  let http: HttpServer | undefined
  let node: HubNode | undefined
  let cluster: HubCluster | undefined
  let running: RunningHub | undefined
  const mqttLog = recordingErrors(logger.child({ component: 'mqtt' }))
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
    const m = config.mqtt
    // The bridge exists before the HTTP server that owns the token store: the check reads
    // `http` when a call comes (late-bound), and refuses with E_UNAVAILABLE until then.
    const callAuth =
      m.calls === false
        ? {}
        : m.trustBroker
          ? { trustBroker: true }
          : { authorizeCall: createMqttCallAuthorizer(() => http) }
    bridge = m.enabled
      ? createMqttBridge(kernel, {
          logger: mqttLog.logger,
          url: m.url,
          prefix: m.prefix,
          events: m.events,
          state: m.state,
          calls: m.calls,
          ...callAuth,
          ...(signing === undefined ? {} : { signing: signing.mqtt }),
          ...(m.maxInFlight === undefined ? {} : { maxInFlight: m.maxInFlight }),
          ...(m.username === undefined ? {} : { username: m.username }),
          ...(m.password === undefined ? {} : { password: m.password }),
        })
      : undefined
    if (bridge !== undefined && bridge.callMode === 'trust-broker') {
      logger.warn(
        { prefix: m.prefix },
        `MQTT calls are served WITHOUT tokens (mqtt.trustBroker): anyone the broker lets publish on ${m.prefix}/call/# can call services; keep anonymous access off and restrict that topic with broker ACLs`,
      )
    }
    if (redis !== undefined && config.redis !== undefined)
      addRedisHealth(kernel, redis, config.redis)
    redis?.metrics.register(kernel.metrics)
    const report = await kernel.start()
    const mqtt = await connectBridge(bridge, m.startWaitMs, logger, mqttLog.last)
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
    registerControlRoutes(http, {
      control: (target, scope, data) =>
        cluster === undefined
          ? Promise.reject(notInCluster(config))
          : cluster.mindbus.control(target, scope, data),
    })
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

/**
 * The startup summary: config, storage, HTTP and MQTT lines, then one row per plugin (name,
 * version, state, its services), a line per plugin that failed or was skipped, the totals, the
 * bootstrap admin token when one was created, and how to stop. Plain text, no colours.
 */
export function formatStartup(
  config: HubConfig,
  report: BootReport,
  plugins: readonly PluginInfo[],
  services: readonly { name: string }[],
  health: string,
  transports?: {
    address: HttpAddress
    mqtt: MqttStatus
    bootstrapToken?: string | undefined
    redis?: RedisStateBackend | undefined
    cluster?: HubCluster | undefined
  },
): string {
  const rows = plugins.map((p) => {
    const own = services
      .filter((s) => s.name.startsWith(`${p.name}.`))
      .map((s) => s.name.slice(p.name.length + 1))
    return [p.name, p.version, p.state, own.length === 0 ? '-' : clip(own.join(', '), 60)]
  })
  const lines = [
    `Core Runtime hub · config ${config.configFile ?? '(none: defaults)'}`,
    `storage: ${describeStorage(config.storage)}`,
  ]
  if (transports !== undefined) {
    const { address, mqtt } = transports
    const auth = config.http.auth
      ? `auth on${config.adminToken === undefined ? '' : ', CORE_ADMIN_TOKEN accepted'}`
      : 'auth OFF (loopback only)'
    lines.push(`http: ${address.url} (${auth}) · docs ${address.url}/docs`)
    lines.push(`mqtt: ${describeMqtt(config, mqtt)}`)
    if (config.redis !== undefined && transports.redis !== undefined)
      lines.push(`redis: ${describeRedis(config.redis, transports.redis)}`)
    if (transports.cluster !== undefined) lines.push(`cluster: ${transports.cluster.describe()}`)
  }
  lines.push('', ...table(['PLUGIN', 'VERSION', 'STATE', 'SERVICES'], rows))
  for (const p of plugins) {
    // The kernel's messages name the plugin and the step already.
    if (p.state === 'failed')
      lines.push(
        `  -> ${p.error?.message ?? `Plugin "${p.name}" failed at ${p.failedStep ?? '?'}`}`,
      )
    else if (p.state !== 'started' && p.reason !== undefined)
      lines.push(`  -> Plugin "${p.name}" ${p.reason}`)
  }
  lines.push(
    '',
    `${report.started.length} started, ${report.failed.length} failed, ${report.skipped.length} skipped in ${report.durationMs} ms · health: ${health}`,
  )
  if (transports?.bootstrapToken !== undefined) {
    lines.push(
      '',
      `Admin token (shown once, store it): ${transports.bootstrapToken}`,
      '  use it as CORE_TOKEN for the core command, or to create narrower tokens: core token create --name <name> --scopes <scope…>',
    )
  }
  lines.push('Press Ctrl+C to stop.')
  return `${lines.join('\n')}\n`
}

/** The stop summary line(s). */
export function formatStop(report: StopReport, signal: string): string {
  const lines = [
    `Hub stopped (${signal}): ${report.stopped.length} plugin(s) stopped in ${report.durationMs} ms${report.timedOut ? ', shutdown deadline passed' : ''}.`,
  ]
  for (const f of report.failed) lines.push(`  ${f.name} failed to ${f.step}: ${f.error.message}`)
  return `${lines.join('\n')}\n`
}

/** `mqtt://127.0.0.1:1883 connected · prefix core`, or why not. */
function describeMqtt(config: HubConfig, mqtt: MqttStatus): string {
  const { bridge } = mqtt
  if (bridge === undefined) return 'off (mqtt.enabled is false in the config)'
  const link = bridge.connected
    ? 'connected'
    : `NOT connected (${mqtt.error ?? 'connection lost'}), retrying in the background; health is degraded until it connects`
  const forwarded =
    config.mqtt.events.length === 0 ? '' : ` · events ${config.mqtt.events.join(', ')}`
  return `${bridge.url} ${link} · prefix ${bridge.prefix}${forwarded} · ${describeMqttCalls(config.mqtt)}`
}

/**
 * Starts the bridge and waits for its first connection at most `waitMs`. Never throws: a
 * broker that is down is logged (warn) and the bridge keeps reconnecting on its own.
 */
async function connectBridge(
  bridge: MqttBridge | undefined,
  waitMs: number,
  logger: Logger,
  lastError: () => string | undefined,
): Promise<MqttStatus> {
  if (bridge === undefined) return { bridge, connectedAtBoot: false, error: undefined }
  const started = bridge.start()
  let timer: NodeJS.Timeout | undefined
  let outcome = await Promise.race([
    started.then(
      () => undefined,
      (error: unknown) => (error instanceof Error ? error.message : String(error)),
    ),
    new Promise<string>((resolveWait) => {
      timer = setTimeout(() => resolveWait(`no connection within ${waitMs} ms`), waitMs)
    }),
  ])
  clearTimeout(timer)
  // Still pending after the wait: it rejects later, while retries go on.
  started.catch((error: unknown) => logger.debug({ err: error }, 'MQTT bridge start'))
  if (outcome === undefined) return { bridge, connectedAtBoot: true, error: undefined }
  const cause = lastError()
  if (cause !== undefined) outcome = `${cause}; ${outcome}`
  logger.warn(
    { url: bridge.url, reason: outcome },
    `MQTT broker ${bridge.url} is not reachable (${outcome}): the hub runs without it, the bridge keeps reconnecting in the background, and mqtt.publish is refused (E_UNAVAILABLE) until it connects`,
  )
  return { bridge, connectedAtBoot: false, error: outcome }
}

/**
 * Wraps the bridge's logger to remember the message of the last error it logged (e.g.
 * `connect ECONNREFUSED 127.0.0.1:1883`), so the startup summary can say why MQTT is down.
 */
function recordingErrors(logger: Logger): { logger: Logger; last: () => string | undefined } {
  let last: string | undefined
  const wrap = (method: 'warn' | 'error'): Logger['warn'] => {
    const write = logger[method].bind(logger) as (...args: unknown[]) => void
    return ((...args: unknown[]) => {
      const [obj] = args
      if (
        typeof obj === 'object' &&
        obj !== null &&
        (obj as { err?: unknown }).err instanceof Error
      )
        last = (obj as { err: Error }).err.message
      write(...args)
    }) as Logger['warn']
  }
  const wrapped: Logger = {
    debug: logger.debug.bind(logger),
    info: logger.info.bind(logger),
    warn: wrap('warn'),
    error: wrap('error'),
    child: (bindings) => logger.child(bindings),
  }
  return { logger: wrapped, last: () => last }
}

/** Why a control signal cannot be sent: cluster mode off, or not joined yet. */
function notInCluster(config: HubConfig): CoreError {
  return new CoreError(
    'E_UNAVAILABLE',
    config.mindbus === undefined
      ? 'Control signals need cluster mode: set CORE_AMQP_URL (or mindbus.url in the hub config) to a RabbitMQ URL and restart the hub'
      : 'This hub has not joined the cluster yet; retry in a moment',
  )
}

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd()
  return [line(header), ...rows.map(line)]
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`
}
