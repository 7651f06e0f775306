import { parseLabelSelector } from '@core/node-registry'
import type { Command } from 'commander'
import { type CommandContext, type HubOptions, hub, text } from './commands.js'
import { formatDetails, formatTable, formatTime } from './format.js'

/**
 * Adds `nodes list [-l SELECTOR] [--kind K] [--healthy]` and `nodes get UID`: the node
 * registry of a running hub (`GET /api/v1/nodes`). The selector is checked here first with the
 * registry's own parser, so a typo is reported with its position before any request.
 * @internal
 */
export function registerNodeCommands(program: Command, context: CommandContext): void {
  const name = program.name()
  const examples = (...lines: string[]): string =>
    `\nExamples:\n${lines.map((line) => `  $ ${name} ${line}`).join('\n')}`
  const act =
    <A extends unknown[]>(handler: (...args: A) => Promise<void>) =>
    async (...args: A): Promise<void> => {
      try {
        await handler(...args)
      } finally {
        context.release()
      }
    }

  const nodes = program.command('nodes').description('the nodes in the node registry')
  hub(
    nodes
      .command('list')
      .description('list nodes, filtered by label selector, kind and health')
      .option('-l, --selector <selector>', 'Kubernetes label selector, e.g. room=kitchen,floor>1')
      .option('--kind <kind>', 'only nodes of this type (hub, agent, gateway, storage…)')
      .option('--healthy', 'only ALIVE nodes'),
  )
    .addHelpText(
      'after',
      examples(
        'nodes list',
        'nodes list -l room=kitchen',
        `nodes list -l 'tier in (a,b),!gpu' --kind hub --healthy --json`,
      ),
    )
    .action(
      act(async (opts: HubOptions & { selector?: string; kind?: string; healthy?: boolean }) => {
        if (opts.selector !== undefined) parseLabelSelector(opts.selector)
        const { body } = await context.client(opts).request('/api/v1/nodes', {
          query: {
            labelSelector: opts.selector,
            kind: opts.kind,
            onlyHealthy: opts.healthy === true ? 'true' : undefined,
          },
        })
        const list = (Array.isArray(body) ? body : []) as NodeRow[]
        context.print(
          opts,
          () =>
            formatTable(
              ['uid', 'name', 'kind', 'health', 'labels', 'last seen'],
              list.map((n) => [
                text(n.nodeId),
                text(n.passport?.metadata?.name),
                text(n.nodeKind),
                text(n.healthState),
                labelsText(n.passport?.metadata?.labels),
                formatTime(n.lastSeen),
              ]),
            ),
          list,
        )
      }),
    )

  hub(
    nodes
      .command('get')
      .description('show one node and its passport')
      .argument('<uid>', 'the node uid'),
  )
    .addHelpText('after', examples('nodes get 0b8f6a2e-6a3c-4a8e-9f3e-1b2c3d4e5f60 --json'))
    .action(
      act(async (uid: string, opts: HubOptions) => {
        const { body } = await context
          .client(opts)
          .request(`/api/v1/nodes/${encodeURIComponent(uid)}`)
        const n = (body ?? {}) as NodeRow
        context.print(
          opts,
          () =>
            formatDetails([
              ['uid', text(n.nodeId)],
              ['name', text(n.passport?.metadata?.name)],
              ['kind', text(n.nodeKind)],
              ['health', text(n.healthState)],
              ['labels', labelsText(n.passport?.metadata?.labels)],
              ['endpoint', text(n.passport?.spec?.endpoint)],
              [
                'services',
                (n.passport?.spec?.capabilities?.services ?? [])
                  .map((s) => `${s.name}@${s.version}`)
                  .join(', ') || '-',
              ],
              ['registered', formatTime(n.registeredAt)],
              ['last seen', formatTime(n.lastSeen)],
            ]),
          body,
        )
      }),
    )
}

interface NodeRow {
  nodeId?: string
  nodeKind?: string
  healthState?: string
  lastSeen?: number
  registeredAt?: number
  passport?: {
    metadata?: { name?: string; labels?: Record<string, string> }
    spec?: {
      endpoint?: string
      capabilities?: { services?: Array<{ name: string; version: string }> }
    }
  }
}

function labelsText(labels: Record<string, string> | undefined): string {
  const pairs = Object.entries(labels ?? {}).map(([k, v]) => `${k}=${v}`)
  return pairs.length === 0 ? '-' : pairs.join(',')
}
