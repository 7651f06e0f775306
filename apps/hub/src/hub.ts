import { resolve } from 'node:path'
import type { Logger } from '@core/contracts'
import {
  type BootReport,
  createKernel,
  type Kernel,
  type PluginInfo,
  type StopReport,
} from '@core/kernel'
import { createStorage, type Storage } from '@core/storage'
import pino from 'pino'
import { APP_DIR, type HubConfig, type StorageConfig } from './config.js'

/** A booted hub. */
export interface RunningHub {
  readonly kernel: Kernel
  readonly storage: Storage
  /** What `kernel.start()` reported. */
  readonly report: BootReport
  /** Stops the kernel (plugins in reverse order, under the shutdown deadline), then closes the storage. Idempotent. */
  stop(): Promise<StopReport>
}

/** Options of {@link startHub}. */
export interface StartHubOptions {
  /** @defaultValue a pino logger at `config.logLevel`, writing JSON lines to stderr */
  logger?: Logger
  /** The package.json whose dependencies carrying `corePlugin` are plugins too. @defaultValue the app's */
  hostPackage?: string
}

/**
 * Opens the storage the config names: SQLite at `<dataDir>/hub.db` (the folder is created), or
 * PostgreSQL when a database URL is set. Each driver is imported only when used.
 * @throws {@link CoreError} `E_STORAGE` when the database cannot be opened; `E_VALIDATION` for a bad URL.
 */
export async function openStorage(config: StorageConfig): Promise<Storage> {
  if (config.kind === 'sqlite') {
    const { createSqliteAdapter } = await import('@core/storage-sqlite')
    return createStorage(await createSqliteAdapter({ filename: config.filename }))
  }
  const { createPostgresAdapter } = await import('@core/storage-postgres')
  return createStorage(
    await createPostgresAdapter({
      url: config.url,
      ...(config.schema === undefined ? {} : { schema: config.schema }),
    }),
  )
}

/** `sqlite /data/hub.db` or `postgres host:5432/db` (never the credentials). */
export function describeStorage(config: StorageConfig): string {
  if (config.kind === 'sqlite') return `sqlite ${config.filename}`
  const target = config.url.replace(/^postgres(ql)?:\/\/([^@/]*@)?/, '').replace(/[?#].*$/, '')
  return `postgres ${target}${config.schema === undefined ? '' : ` (schema ${config.schema})`}`
}

/**
 * Boots the hub: opens the storage, creates the kernel with the configured plugin folders,
 * explicit plugins, per-plugin config and timeouts, and starts it.
 * @throws {@link CoreError} what {@link openStorage} or `kernel.start()` throws (the storage is
 *   closed again first).
 */
export async function startHub(
  config: HubConfig,
  options: StartHubOptions = {},
): Promise<RunningHub> {
  const logger =
    options.logger ??
    (pino(
      { name: 'core', level: config.logLevel },
      pino.destination({ dest: 2, sync: true }),
    ) as unknown as Logger)
  const storage = await openStorage(config.storage)
  const kernel = createKernel({
    hostPackage: options.hostPackage ?? resolve(APP_DIR, 'package.json'),
    pluginDirs: config.pluginDirs,
    plugins: config.plugins,
    required: config.required,
    config: config.pluginConfig,
    storage,
    persistState: config.persistState,
    logger,
    watch: config.watch,
    ...(config.lifecycleTimeoutMs === undefined
      ? {}
      : { lifecycleTimeoutMs: config.lifecycleTimeoutMs }),
    ...(config.shutdownTimeoutMs === undefined
      ? {}
      : { shutdownTimeoutMs: config.shutdownTimeoutMs }),
  })
  let report: BootReport
  try {
    report = await kernel.start()
  } catch (error) {
    await kernel.stop().catch(() => undefined)
    await storage.close().catch(() => undefined)
    throw error
  }
  let stopped: Promise<StopReport> | undefined
  return {
    kernel,
    storage,
    report,
    stop: () => {
      stopped ??= (async () => {
        const result = await kernel.stop()
        await storage.close()
        return result
      })()
      return stopped
    },
  }
}

/**
 * The startup summary: where config and data are, then one row per plugin (name, version,
 * state, its services), then a totals line. Plain text, no colours.
 */
export function formatStartup(
  config: HubConfig,
  report: BootReport,
  plugins: readonly PluginInfo[],
  services: readonly { name: string }[],
  health: string,
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
    '',
    ...table(['PLUGIN', 'VERSION', 'STATE', 'SERVICES'], rows),
  ]
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
    'Press Ctrl+C to stop.',
  )
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
