import type { Command } from 'commander'
import {
  asArray,
  type CommandContext,
  commandKit,
  type HubOptions,
  hub,
  integer,
  text,
} from './commands.js'
import { formatCompact, formatDetails, formatJson, formatTable, formatTime } from './format.js'

/**
 * Adds `state get|set|delete|list` to `program`.
 * @internal
 */
export function registerStateCommands(program: Command, context: CommandContext): void {
  const { act, examples } = commandKit(program, context)

  // ─── state ────────────────────────────────────────────────────────────────────────────
  const state = program.command('state').description('read and write state keys')
  hub(
    state
      .command('get')
      .description('read one state key')
      .argument('<namespace>', 'namespace, usually a plugin name')
      .argument('<key>', 'dot-separated key'),
  )
    .addHelpText(
      'after',
      examples('state get devices light.kitchen', 'state get devices light.kitchen --json'),
    )
    .action(
      act(async (namespace: string, key: string, opts: HubOptions) => {
        const { body } = await context
          .client(opts)
          .request(`/api/v1/state/${encodeURIComponent(namespace)}/${encodeURIComponent(key)}`)
        const entry = (body ?? {}) as Record<string, unknown>
        context.print(opts, () => formatEntry(namespace, key, entry), entry)
      }),
    )
  hub(
    state
      .command('set')
      .description('write one state key')
      .argument('<namespace>', 'namespace, usually a plugin name')
      .argument('<key>', 'dot-separated key')
      .argument('<json>', 'the value as JSON; - reads stdin')
      .option('--if-revision <n>', 'write only if the key is at revision n (0: only if absent)')
      .option('--ttl <ms>', 'expire the key after this many milliseconds'),
  )
    .addHelpText(
      'after',
      examples(
        `state set devices light.kitchen '{"on":true}'`,
        `state set devices light.kitchen '{"on":false}' --if-revision 3`,
        `state set notes greeting '"hello"' --ttl 60000`,
      ),
    )
    .action(
      act(
        async (
          namespace: string,
          key: string,
          json: string,
          opts: HubOptions & { ifRevision?: string; ttl?: string },
        ) => {
          const client = context.client(opts)
          const value = await context.json(json, '<json>')
          const body: Record<string, unknown> = { value }
          if (opts.ifRevision !== undefined)
            body.ifRevision = integer(opts.ifRevision, '--if-revision', 0)
          if (opts.ttl !== undefined) body.ttlMs = integer(opts.ttl, '--ttl', 1)
          const answer = await client.request(
            `/api/v1/state/${encodeURIComponent(namespace)}/${encodeURIComponent(key)}`,
            { method: 'PUT', body },
          )
          const entry = (answer.body ?? {}) as Record<string, unknown>
          context.print(
            opts,
            () => `Set ${namespace}/${key} (revision ${text(entry.revision)})\n`,
            entry,
          )
        },
      ),
    )
  hub(
    state
      .command('delete')
      .description('delete one state key')
      .argument('<namespace>', 'namespace, usually a plugin name')
      .argument('<key>', 'dot-separated key')
      .option('--if-revision <n>', 'delete only if the key is at revision n'),
  )
    .addHelpText(
      'after',
      examples(
        'state delete devices light.kitchen',
        'state delete devices light.kitchen --if-revision 4',
      ),
    )
    .action(
      act(async (namespace: string, key: string, opts: HubOptions & { ifRevision?: string }) => {
        const client = context.client(opts)
        const ifRevision =
          opts.ifRevision === undefined ? undefined : integer(opts.ifRevision, '--if-revision', 0)
        await client.request(
          `/api/v1/state/${encodeURIComponent(namespace)}/${encodeURIComponent(key)}`,
          { method: 'DELETE', query: { ifRevision } },
        )
        context.print(opts, () => `Deleted ${namespace}/${key}\n`, {
          namespace,
          key,
          deleted: true,
        })
      }),
    )
  hub(
    state
      .command('list')
      .description('list the live keys of a namespace')
      .argument('<namespace>', 'namespace, usually a plugin name')
      .option('--prefix <key>', 'only this key and the keys below it'),
  )
    .addHelpText(
      'after',
      examples('state list devices', 'state list devices --prefix light --json'),
    )
    .action(
      act(async (namespace: string, opts: HubOptions & { prefix?: string }) => {
        const { body } = await context
          .client(opts)
          .request(`/api/v1/state/${encodeURIComponent(namespace)}`, {
            query: { prefix: opts.prefix },
          })
        const items = asArray(body) as Array<Record<string, unknown>>
        context.print(
          opts,
          () =>
            items.length === 0
              ? `No keys in ${namespace}\n`
              : formatTable(
                  ['key', 'revision', 'updated', 'value'],
                  items.map((i) => [
                    text(i.key),
                    text(i.revision),
                    formatTime(i.updatedAt),
                    formatCompact(i.value),
                  ]),
                ),
          items,
        )
      }),
    )
}

function formatEntry(namespace: string, key: string, entry: Record<string, unknown>): string {
  const pairs: Array<[string, string]> = [
    ['namespace', namespace],
    ['key', key],
    ['revision', text(entry.revision)],
    ['updated', formatTime(entry.updatedAt)],
  ]
  if (entry.expiresAt !== undefined) pairs.push(['expires', formatTime(entry.expiresAt)])
  pairs.push(['value', formatJson(entry.value).trimEnd()])
  return formatDetails(pairs)
}
