import { CoreError } from '@core/contracts'
import type { Command } from 'commander'
import type { CommandContext, HubOptions } from './commands.js'
import { hub, text } from './commands.js'

/** The control scopes `core ctl` sends (MindBus `ctl.<target>.<scope>`). */
const SCOPES = ['stop', 'pause', 'resume', 'shutdown', 'config'] as const

/**
 * Adds `ctl <target> <scope> [--data <json>]`: sends a control signal to hubs of the cluster
 * through the hub's `POST /api/v1/control` (admin token). `target` is `all`, a role or a node
 * uid; the scope is checked here first, so a typo is reported before any request.
 * @internal
 */
export function registerClusterCommands(program: Command, context: CommandContext): void {
  const name = program.name()
  hub(
    program
      .command('ctl')
      .description(
        'send a control signal to hubs of the cluster: stop (abort running commands), pause, resume, shutdown, config (reload)',
      )
      .argument('<target>', '"all", a role, or a node uid (see: nodes list)')
      .argument('<scope>', SCOPES.join(' | '))
      .option('--data <json>', 'JSON handed to the signal handlers'),
  )
    .addHelpText(
      'after',
      `\nExamples:\n  $ ${name} ctl all pause\n  $ ${name} ctl kitchen resume\n  $ ${name} ctl 0b8f6a2e-6a3c-4a8e-9f3e-1b2c3d4e5f60 shutdown --json`,
    )
    .action(async (target: string, scope: string, opts: HubOptions & { data?: string }) => {
      try {
        if (!(SCOPES as readonly string[]).includes(scope)) {
          throw new CoreError(
            'E_VALIDATION',
            `Unknown control scope "${scope}": use one of ${SCOPES.join(', ')}`,
            { details: { scope, allowed: [...SCOPES] } },
          )
        }
        const data = opts.data === undefined ? undefined : await context.json(opts.data, '--data')
        const { body } = await context.client(opts).request('/api/v1/control', {
          method: 'POST',
          body: { target, scope, ...(data === undefined ? {} : { data }) },
        })
        const key = (body as { routingKey?: string } | undefined)?.routingKey
        context.print(opts, () => `sent ${text(key)}\n`, body ?? null)
      } finally {
        context.release()
      }
    })
}
