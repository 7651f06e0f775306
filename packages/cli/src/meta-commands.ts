import type { Command } from 'commander'
import { type CommandContext, commandKit, type HubOptions, hub, text } from './commands.js'
import { formatCompact, formatJson, formatTable } from './format.js'

/**
 * Adds `health`, `openapi` and `metrics` to `program`.
 * @internal
 */
export function registerMetaCommands(program: Command, context: CommandContext): void {
  const { act, examples } = commandKit(program, context)

  // ─── health, openapi, metrics ─────────────────────────────────────────────────────────
  hub(program.command('health').description('show the hub health; exit code 7 when unhealthy'))
    .addHelpText('after', examples('health', 'health --json'))
    .action(
      act(async (opts: HubOptions) => {
        const { body } = await context.client(opts).request('/health', { accept: [503] })
        const report = (body ?? {}) as {
          status?: unknown
          components?: Record<string, { status?: unknown; details?: unknown }>
          plugins?: Record<string, Record<string, unknown>>
        }
        context.print(opts, () => formatHealth(report), report)
        if (report.status === 'unhealthy') context.exit(7)
      }),
    )
  hub(program.command('openapi').description('print the hub OpenAPI 3.1 document'))
    .addHelpText('after', examples('openapi > openapi.json'))
    .action(
      act(async (opts: HubOptions) => {
        const { body } = await context.client(opts).request('/openapi.json')
        context.print(opts, () => formatJson(body), body)
      }),
    )
  hub(program.command('metrics').description('print the hub Prometheus metrics'))
    .addHelpText('after', examples("metrics | grep '^core_'"))
    .action(
      act(async (opts: HubOptions) => {
        const { body } = await context.client(opts).request('/metrics')
        const metrics = typeof body === 'string' ? body : formatJson(body)
        context.print(opts, () => (metrics.endsWith('\n') ? metrics : `${metrics}\n`), metrics)
      }),
    )
}

function formatHealth(report: {
  status?: unknown
  components?: Record<string, { status?: unknown; details?: unknown }>
  plugins?: Record<string, Record<string, unknown>>
}): string {
  let out = `status: ${text(report.status)}\n`
  const components = Object.entries(report.components ?? {})
  if (components.length > 0) {
    out += `\n${formatTable(
      ['component', 'status', 'details'],
      components.map(([name, c]) => [
        name,
        text(c.status),
        c.details === undefined ? '' : formatCompact(c.details, 80),
      ]),
    )}`
  }
  const plugins = Object.entries(report.plugins ?? {})
  if (plugins.length > 0) {
    out += `\n${formatTable(
      ['plugin', 'status', 'state', 'required', 'note'],
      plugins.map(([name, p]) => [
        name,
        text(p.status),
        text(p.state),
        p.required === true ? 'yes' : 'no',
        typeof p.error === 'string' ? p.error : typeof p.reason === 'string' ? p.reason : '',
      ]),
    )}`
  }
  return out
}
