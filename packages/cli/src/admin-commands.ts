import type { Command } from 'commander'
import { asArray, type CommandContext, commandKit, type HubOptions, hub, text } from './commands.js'
import { formatTable, formatTime } from './format.js'

/**
 * Adds `plugins list|reload` and `token create|list|revoke` (admin) to `program`.
 * @internal
 */
export function registerAdminCommands(program: Command, context: CommandContext): void {
  const { act, examples } = commandKit(program, context)

  // ─── plugins ──────────────────────────────────────────────────────────────────────────
  const plugins = program.command('plugins').description('list and reload plugins (admin)')
  hub(plugins.command('list').description('list the plugins and their state'))
    .addHelpText('after', examples('plugins list', 'plugins list --json'))
    .action(
      act(async (opts: HubOptions) => {
        const { body } = await context.client(opts).request('/api/v1/plugins')
        const list = asArray(body) as Array<Record<string, unknown>>
        context.print(
          opts,
          () =>
            formatTable(
              ['name', 'version', 'state', 'isolation', 'required', 'reloads', 'note'],
              list.map((p) => [
                text(p.name),
                text(p.version),
                text(p.state),
                // A hub older than the field runs every plugin inline.
                p.isolation === undefined ? 'inline' : text(p.isolation),
                p.required === true ? 'yes' : 'no',
                text(p.reloads),
                pluginNote(p),
              ]),
            ),
          list,
        )
      }),
    )
  hub(
    plugins
      .command('reload')
      .description('reload a plugin and restart the plugins that depend on it')
      .argument('<name>', 'plugin name'),
  )
    .addHelpText('after', examples('plugins reload devices'))
    .action(
      act(async (plugin: string, opts: HubOptions) => {
        const { body } = await context
          .client(opts)
          .request(`/api/v1/plugins/${encodeURIComponent(plugin)}/reload`, { method: 'POST' })
        const info = (body ?? {}) as Record<string, unknown>
        context.print(
          opts,
          () =>
            `Reloaded ${text(info.name ?? plugin)} ${text(info.version)}: ${text(info.state)}${pluginNote(info) === '' ? '' : ` (${pluginNote(info)})`}\n`,
          info,
        )
      }),
    )

  // ─── tokens ───────────────────────────────────────────────────────────────────────────
  const token = program.command('token').description('create, list and revoke API tokens (admin)')
  hub(
    token
      .command('create')
      .description('create a token; its text is printed this once')
      .requiredOption('--name <name>', 'a label for people, 1-64 characters')
      .requiredOption(
        '--scopes <scope...>',
        'admin, or <kind>:<pattern> with kind services.call, events.publish, events.subscribe, state.read, state.write (space- or comma-separated)',
      ),
  )
    .addHelpText(
      'after',
      examples(
        'token create --name ci --scopes admin',
        "token create --name dashboard --scopes 'state.read:devices.#' 'events.subscribe:devices.#'",
        "token create --name lights --scopes 'services.call:lights.#,state.read:#' --json",
      ),
    )
    .action(
      act(async (opts: HubOptions & { name: string; scopes: string[] }) => {
        const scopes = opts.scopes
          .flatMap((s) => s.split(','))
          .map((s) => s.trim())
          .filter((s) => s !== '')
        const { body } = await context
          .client(opts)
          .request('/api/v1/tokens', { method: 'POST', body: { name: opts.name, scopes } })
        const created = (body ?? {}) as Record<string, unknown>
        context.print(
          opts,
          () =>
            `Created token ${text(created.id)} "${text(created.name)}" with scopes ${asArray(created.scopes).join(', ')}.\nIts text is shown only this once; keep it somewhere safe (e.g. export CORE_TOKEN=…):\n\n${text(created.token)}\n`,
          created,
        )
      }),
    )
  hub(token.command('list').description('list tokens (never their text)'))
    .addHelpText('after', examples('token list'))
    .action(
      act(async (opts: HubOptions) => {
        const { body } = await context.client(opts).request('/api/v1/tokens')
        const list = asArray(body) as Array<Record<string, unknown>>
        context.print(
          opts,
          () =>
            list.length === 0
              ? 'No tokens\n'
              : formatTable(
                  ['id', 'name', 'scopes', 'created', 'last used'],
                  list.map((t) => [
                    text(t.id),
                    text(t.name),
                    asArray(t.scopes).join(','),
                    formatTime(t.createdAt),
                    formatTime(t.lastUsedAt),
                  ]),
                ),
          list,
        )
      }),
    )
  hub(
    token
      .command('revoke')
      .description('revoke a token')
      .argument('<id>', 'the token id (see token list)'),
  )
    .addHelpText('after', examples('token revoke 3f2a9c0d1e4b5a67'))
    .action(
      act(async (id: string, opts: HubOptions) => {
        await context
          .client(opts)
          .request(`/api/v1/tokens/${encodeURIComponent(id)}`, { method: 'DELETE' })
        context.print(opts, () => `Revoked token ${id}\n`, { id, revoked: true })
      }),
    )
}

function pluginNote(plugin: Record<string, unknown>): string {
  const error = plugin.error as { code?: unknown; message?: unknown } | undefined
  if (error !== undefined && error !== null) {
    return `${text(error.code)}: ${text(error.message)}`
  }
  return typeof plugin.reason === 'string' ? plugin.reason : ''
}
