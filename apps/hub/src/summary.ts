import type { HttpAddress } from '@core/http'
import type { BootReport, PluginInfo, StopReport } from '@core/kernel'
import type { RedisStateBackend } from '@core/redis'
import type { HubCluster } from './cluster.js'
import type { HubConfig } from './config.js'
import { describeMqtt, type MqttStatus } from './mqtt-boot.js'
import { describePolicy } from './policy-config.js'
import { describeRedis } from './redis.js'
import { describeSigning } from './signing-config.js'
import { describeStorage } from './storage-select.js'

/**
 * The startup summary: config, storage, HTTP, MQTT, Redis, cluster and security (operator policy,
 * signing) lines, then one row per plugin (name, version, state with its isolation level unless
 * inline, its services), a line per plugin that failed or was skipped, the totals, the bootstrap
 * admin token when one was created, and how to stop. Plain text, no colours.
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
    // Isolated plugins say where they run: `started (worker)`, `failed (process)`.
    const state = p.isolation === 'inline' ? p.state : `${p.state} (${p.isolation})`
    return [p.name, p.version, state, own.length === 0 ? '-' : clip(own.join(', '), 60)]
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
    lines.push(
      `security: ${describePolicy(config.policy)} · ${describeSigning(config.signing, config.redis, config.mindbus !== undefined)}`,
    )
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
