import type { Command } from 'commander'
import { callRouteQuery, remoteServiceRows } from './cluster-services.js'
import {
  asArray,
  type CommandContext,
  collect,
  commandKit,
  type HubOptions,
  hub,
  text,
} from './commands.js'
import { formatJson, formatTable } from './format.js'
import { buildParams } from './params.js'

/**
 * Adds `call` and `services list` to `program`.
 * @internal
 */
export function registerCallCommands(program: Command, context: CommandContext): void {
  const { act, examples } = commandKit(program, context)

  // ─── call ─────────────────────────────────────────────────────────────────────────────
  hub(
    program
      .command('call')
      .description('call a service; params from <json> and/or --param')
      .argument('<service>', 'service name, e.g. lights.set')
      .argument('[json]', 'params as JSON (an object, usually); - reads stdin')
      .option(
        '-p, --param <key=value>',
        'set one param (repeatable); the value is parsed as JSON when it parses, dotted keys nest',
        collect,
        [] as string[],
      )
      .option('--node <uid>', 'cluster mode: the hub (node uid) that must serve the call')
      .option(
        '--selector <selector>',
        "cluster mode: only hubs whose labels match, e.g. 'room=kitchen'",
      ),
  )
    .addHelpText(
      'after',
      examples(
        `call lights.set '{"room":"kitchen","on":true}'`,
        `call lights.set '{"on":true}' --selector 'room=kitchen'`,
        'call lights.set --param room=kitchen --param on=true --param color.r=255',
        `call lights.set '{"room":"hall"}' -p level=40 --json`,
      ),
    )
    .action(
      act(
        async (
          service: string,
          json: string | undefined,
          opts: HubOptions & { param: string[]; node?: string; selector?: string },
        ) => {
          const query = callRouteQuery(opts)
          const client = context.client(opts)
          const base = json === undefined ? undefined : await context.json(json, '<json>')
          const params = buildParams(base, opts.param)
          const { body } = await client.request(`/api/v1/services/${encodeURIComponent(service)}`, {
            method: 'POST',
            body: params,
            query,
          })
          context.print(opts, () => formatJson(body), body ?? null)
        },
      ),
    )

  // ─── services ─────────────────────────────────────────────────────────────────────────
  const services = program.command('services').description('services the hub offers')
  hub(
    services
      .command('list')
      .description(
        'list the services this token may call, and those other hubs of the cluster serve',
      ),
  )
    .addHelpText('after', examples('services list', 'services list --json'))
    .action(
      act(async (opts: HubOptions) => {
        const client = context.client(opts)
        const { body } = await client.request('/api/v1/services')
        const list: Array<Record<string, unknown>> = [
          ...(asArray(body) as Array<Record<string, unknown>>).map((s) => ({
            ...s,
            node: 'local',
          })),
          ...(await remoteServiceRows(client)),
        ]
        context.print(
          opts,
          () =>
            formatTable(
              ['name', 'version', 'node', 'timeout ms', 'description'],
              list.map((s) => [
                text(s.name),
                text(s.version),
                text(s.node),
                text(s.timeoutMs),
                text(s.description),
              ]),
            ),
          list,
        )
      }),
    )
}
