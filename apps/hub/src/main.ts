#!/usr/bin/env node
/**
 * The hub's command: `core-hub [--config <file>] [--watch]` (the root `pnpm start`).
 *
 * Loads the config (file + environment), boots the kernel with the plugins, prints what
 * started, and on SIGINT or SIGTERM stops gracefully. Exit codes: 0 after a clean stop (or
 * `--help`); 1 when the hub could not start or a plugin failed to stop; 2 for a bad command
 * line, config file or environment; 130 when a second signal forces the exit.
 */
import { CoreError } from '@core/contracts'
import { loadHubConfig, parseHubArgs, USAGE } from './config.js'
import { formatStartup, formatStop, type RunningHub, startHub } from './hub.js'

async function main(argv: string[]): Promise<number> {
  let config: Awaited<ReturnType<typeof loadHubConfig>>
  try {
    if (parseHubArgs(argv).help) {
      process.stdout.write(`${USAGE}\n`)
      return 0
    }
    config = await loadHubConfig({ argv })
  } catch (error) {
    process.stderr.write(`core-hub: ${describe(error)}\n`)
    return 2
  }

  let hub: RunningHub
  try {
    hub = await startHub(config)
  } catch (error) {
    process.stderr.write(`core-hub: the hub did not start: ${describe(error)}\n`)
    return 1
  }

  const [plugins, health] = await Promise.all([hub.kernel.plugins.list(), hub.kernel.health()])
  process.stdout.write(
    formatStartup(config, hub.report, plugins, hub.kernel.services.list(), health.status),
  )

  // Nothing else holds the event loop open (the kernel's timers are unref'd): wait for a signal.
  const keepAlive = setInterval(() => {}, 1 << 30)
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    const onSignal = (name: NodeJS.Signals): void => {
      process.removeListener('SIGINT', onSignal)
      process.removeListener('SIGTERM', onSignal)
      // A second signal while stopping forces the exit.
      process.once('SIGINT', () => process.exit(130))
      process.once('SIGTERM', () => process.exit(130))
      resolve(name)
    }
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
  })
  process.stdout.write(`\nStopping (${signal})…\n`)
  try {
    const report = await hub.stop()
    process.stdout.write(formatStop(report, signal))
    return report.failed.length === 0 ? 0 : 1
  } catch (error) {
    process.stderr.write(`core-hub: stopping failed: ${describe(error)}\n`)
    return 1
  } finally {
    clearInterval(keepAlive)
  }
}

function describe(error: unknown): string {
  if (CoreError.is(error)) return `${error.message} [${error.code}]`
  return error instanceof Error ? (error.stack ?? error.message) : String(error)
}

process.exit(await main(process.argv.slice(2)))
