import { assertPattern, assertTopic, CoreError } from '@core/contracts'
import type { Command } from 'commander'
import type { CommandContext, HubOptions } from './cli.js'
import { callRouteQuery, remoteServiceRows } from './cluster-services.js'
import { formatCompact, formatDetails, formatJson, formatTable, formatTime } from './format.js'
import { buildParams } from './params.js'
import { DEFAULT_HUB_URL, DEFAULT_TIMEOUT_MS } from './types.js'

/**
 * Adds every command that talks to a running hub to `program`.
 * @internal
 */
export function registerHubCommands(program: Command, context: CommandContext): void {
  const name = program.name()
  const act =
    <A extends unknown[]>(handler: (...args: A) => Promise<void>) =>
    async (...args: A): Promise<void> => {
      try {
        await handler(...args)
      } finally {
        context.release()
      }
    }
  const examples = (...lines: string[]): string =>
    `\nExamples:\n${lines.map((line) => `  $ ${name} ${line}`).join('\n')}`

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

  // ─── events ───────────────────────────────────────────────────────────────────────────
  const events = program.command('events').description('watch and publish events')
  hub(
    events
      .command('tail')
      .description('print matching events as they happen, until Ctrl+C')
      .argument(
        '<pattern>',
        'AMQP topic pattern: * one word, # zero or more (quote it for the shell)',
      )
      .option('-n, --count <n>', 'stop after n events'),
  )
    .addHelpText(
      'after',
      `
People get one line per event: time, type, data. With --json, each event is one line of
CloudEvents JSON (NDJSON). Ctrl+C ends the stream with exit code 0; the hub closing it
ends it with exit code 7 (E_UNAVAILABLE).
${examples(`events tail 'devices.#'`, `events tail '#' --json | jq .data`, `events tail 'state.devices.#' -n 1`)}`,
    )
    .action(
      act(async (pattern: string, opts: HubOptions & { count?: string }) => {
        const client = context.client(opts)
        assertPattern(pattern, '<pattern>')
        const count = opts.count === undefined ? undefined : integer(opts.count, '--count', 1)
        const signal = context.signal()
        const stream = await client.stream('/api/v1/events', { query: { pattern } })
        let seen = 0
        for await (const message of stream) {
          if (opts.json) {
            context.stdout.write(`${message.data.replace(/\n/g, ' ')}\n`)
          } else {
            context.stdout.write(formatEventLine(message.data))
          }
          seen++
          if (count !== undefined && seen >= count) {
            await stream.return(undefined)
            return
          }
        }
        if (signal.aborted) return
        throw new CoreError(
          'E_UNAVAILABLE',
          `The hub at ${client.url} closed the event stream (it may be stopping); run the command again once it is back`,
          { details: { url: client.url } },
        )
      }),
    )
  hub(
    events
      .command('publish')
      .description('publish an event; the JSON is its data')
      .argument('<type>', 'event type (topic), e.g. devices.light.kitchen.changed')
      .argument('[json]', 'the event data as JSON (default null); - reads stdin'),
  )
    .addHelpText('after', examples(`events publish demo.button.pressed '{"button":1}'`))
    .action(
      act(async (type: string, json: string | undefined, opts: HubOptions) => {
        const client = context.client(opts)
        assertTopic(type, '<type>')
        const data = json === undefined ? null : await context.json(json, '<json>')
        const { body } = await client.request(`/api/v1/events/${encodeURIComponent(type)}`, {
          method: 'POST',
          body: data,
        })
        const report = (body ?? {}) as { id?: unknown; matched?: unknown }
        context.print(
          opts,
          () =>
            `Published ${type} (id ${text(report.id)}, ${text(report.matched)} subscription(s))\n`,
          report,
        )
      }),
    )

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
              ['name', 'version', 'state', 'required', 'reloads', 'note'],
              list.map((p) => [
                text(p.name),
                text(p.version),
                text(p.state),
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

/** Adds `--url`, `--token`, `--timeout` and `--json`. */
/** Adds the options every hub command takes. @internal */
export function hub(command: Command): Command {
  return command
    .option('--url <url>', `hub URL (env CORE_URL; default ${DEFAULT_HUB_URL})`)
    .option('--token <token>', 'bearer token (env CORE_TOKEN)')
    .option('--timeout <ms>', `request deadline in milliseconds (default ${DEFAULT_TIMEOUT_MS})`)
    .option('--json', 'JSON on stdout for scripts; errors as problem+json on stderr')
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value]
}

/** A whole number ≥ `min`. @throws E_VALIDATION naming the option. */
function integer(value: string, option: string, min: number): number {
  const n = /^\s*-?\d+\s*$/.test(value) ? Number(value) : Number.NaN
  if (!Number.isSafeInteger(n) || n < min) {
    throw new CoreError('E_VALIDATION', `${option} "${value}" must be a whole number ≥ ${min}`, {
      details: { argument: option },
    })
  }
  return n
}

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : []
}

/** A cell of a table: `-` for nothing, JSON for objects. @internal */
export function text(value: unknown): string {
  if (value === undefined || value === null) return '-'
  return typeof value === 'string'
    ? value
    : typeof value === 'object'
      ? JSON.stringify(value)
      : String(value)
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

function formatEventLine(data: string): string {
  let event: { time?: unknown; type?: unknown; data?: unknown }
  try {
    event = JSON.parse(data) as typeof event
  } catch {
    return `${data}\n`
  }
  const time = typeof event.time === 'string' ? event.time : '-'
  return `${time}  ${text(event.type)}  ${JSON.stringify(event.data ?? null)}\n`
}

function pluginNote(plugin: Record<string, unknown>): string {
  const error = plugin.error as { code?: unknown; message?: unknown } | undefined
  if (error !== undefined && error !== null) {
    return `${text(error.code)}: ${text(error.message)}`
  }
  return typeof plugin.reason === 'string' ? plugin.reason : ''
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
