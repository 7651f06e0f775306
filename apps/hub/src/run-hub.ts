import { CoreError, type Logger } from '@core/contracts'
import { type HubConfig, loadHubConfig, parseHubArgs, USAGE } from './config.js'
import { type RunningHub, startHub } from './hub.js'
import { formatStartup, formatStop } from './summary.js'

/**
 * How long after the first stop signal another one is taken for a copy of it, ms: a package
 * manager running the hub (pnpm, npm) forwards the terminal's SIGINT to its child at once.
 */
const DUPLICATE_SIGNAL_MS = 500

/** Where {@link runHub} prints: anything with `write(text)`. */
export interface HubOutput {
  write(text: string): unknown
}

/** Options of {@link runHub}. All optional. */
export interface RunHubOptions {
  /** The config file (what `core start --config <file>` passes); wins over `--config` in `argv`. */
  config?: string
  /** The hub's command line: `--config <file>`, `--watch`, `--help`. @defaultValue [] */
  argv?: string[]
  /** Where `CORE_*` variables are read. @defaultValue process.env */
  env?: Record<string, string | undefined>
  /** Base of relative paths from the command line and the environment. @defaultValue process.cwd() */
  cwd?: string
  /** The startup and stop summaries. @defaultValue process.stdout */
  stdout?: HubOutput
  /** Failures (`core-hub: …`). @defaultValue process.stderr */
  stderr?: HubOutput
  /** Stops the hub when aborted, as SIGINT or SIGTERM do (for embedding and tests). */
  signal?: AbortSignal
  /** @defaultValue createHubLogger at the configured level (pino-pretty on a terminal, else JSON lines on stderr) */
  logger?: Logger
}

/**
 * Runs the hub until SIGINT or SIGTERM (or `signal` aborts): loads the config (file and
 * environment), boots storage → kernel with the MQTT bridge → HTTP, prints the startup summary
 * on stdout (HTTP and docs URLs, MQTT status, plugin table, and the admin token on a first boot
 * with auth on), then stops in reverse order and prints the stop summary. This is what
 * `core start` (the hub's `core` bin, or `@core/cli` with `CORE_HUB_MODULE`) and `core-hub`
 * run.
 *
 * In cluster mode a `ctl.<all|role|node>.shutdown` control signal stops it the same way, and
 * `ctl.*.config` reads the config again (see `startCluster` for what applies at run time).
 * A second SIGINT or SIGTERM while stopping exits the process at once with 130, unless it comes
 * within {@link DUPLICATE_SIGNAL_MS} of the first: that is the same Ctrl+C forwarded by a package
 * manager in front of the hub (`pnpm start` sends its child the SIGINT the terminal already sent),
 * so the clean stop goes on and the exit code stays 0.
 *
 * @returns The exit code: 0 after a clean stop (or `--help`); 1 when the hub could not start
 *   (a required plugin failed, the database cannot be opened, the HTTP port is taken) or a
 *   plugin failed to stop; 2 for a bad command line, config file or environment (including
 *   `CORE_AUTH=off` on an address that is not loopback). Never throws.
 * @example
 * ```ts
 * import { runHub } from '@core/hub'
 * process.exitCode = await runHub({ config: './hub.config.yaml' })
 * ```
 */
export async function runHub(options: RunHubOptions = {}): Promise<number> {
  const stdout = options.stdout ?? process.stdout
  const stderr = options.stderr ?? process.stderr
  const argv = [
    ...(options.argv ?? []),
    ...(options.config === undefined ? [] : ['--config', options.config]),
  ]
  let config: HubConfig
  const load = (): Promise<HubConfig> =>
    loadHubConfig({
      argv,
      ...(options.env === undefined ? {} : { env: options.env }),
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    })
  try {
    if (parseHubArgs(argv).help) {
      stdout.write(`${USAGE}\n`)
      return 0
    }
    config = await load()
  } catch (error) {
    stderr.write(`core-hub: ${describe(error)}\n`)
    return 2
  }

  let hub: RunningHub
  // A `ctl.*.shutdown` control signal (cluster mode) stops the hub as SIGTERM does.
  let requestShutdown: (from: string) => void = () => {}
  const shutdownRequested = new Promise<string>((resolveRequest) => {
    requestShutdown = (from) => resolveRequest(`control signal from ${from}`)
  })
  try {
    hub = await startHub(config, {
      ...(options.logger === undefined ? {} : { logger: options.logger }),
      onShutdownRequest: (from) => requestShutdown(from),
      loadConfig: load,
    })
  } catch (error) {
    stderr.write(`core-hub: the hub did not start: ${describe(error)}\n`)
    return 1
  }

  const [plugins, health] = await Promise.all([hub.kernel.plugins.list(), hub.health()])
  stdout.write(
    formatStartup(config, hub.report, plugins, hub.kernel.services.list(), health.status, {
      address: hub.address,
      mqtt: hub.mqtt,
      bootstrapToken: hub.bootstrapToken,
      redis: hub.redis,
      cluster: hub.cluster,
    }),
  )

  // The HTTP server holds the event loop open; the interval makes sure of it either way.
  const keepAlive = setInterval(() => {}, 1 << 30)
  let stoppingSince = 0
  const forceExit = (): void => {
    if (Date.now() - stoppingSince < DUPLICATE_SIGNAL_MS) return
    process.exit(130)
  }
  const reason = await new Promise<string>((resolve) => {
    let finished = false
    const finish = (name: string): void => {
      if (finished) return
      finished = true
      process.removeListener('SIGINT', onSignal)
      process.removeListener('SIGTERM', onSignal)
      options.signal?.removeEventListener('abort', onAbort)
      // A second signal while stopping forces the exit (a copy forwarded at once does not).
      stoppingSince = Date.now()
      process.on('SIGINT', forceExit)
      process.on('SIGTERM', forceExit)
      resolve(name)
    }
    const onSignal = (name: NodeJS.Signals): void => finish(name)
    const onAbort = (): void => finish('abort')
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
    if (options.signal?.aborted) finish('abort')
    else options.signal?.addEventListener('abort', onAbort, { once: true })
    void shutdownRequested.then(finish)
  })
  stdout.write(`\nStopping (${reason})…\n`)
  try {
    const report = await hub.stop()
    stdout.write(formatStop(report, reason))
    return report.failed.length === 0 ? 0 : 1
  } catch (error) {
    stderr.write(`core-hub: stopping failed: ${describe(error)}\n`)
    return 1
  } finally {
    clearInterval(keepAlive)
    process.removeListener('SIGINT', forceExit)
    process.removeListener('SIGTERM', forceExit)
  }
}

function describe(error: unknown): string {
  if (CoreError.is(error)) return `${error.message} [${error.code}]`
  return error instanceof Error ? (error.stack ?? error.message) : String(error)
}
