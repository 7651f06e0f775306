import { assertPattern, assertTopic, CoreError } from '@core/contracts'
import type { Command } from 'commander'
import { type CommandContext, commandKit, type HubOptions, hub, integer, text } from './commands.js'

/**
 * Adds `events tail|publish` to `program`.
 * @internal
 */
export function registerEventCommands(program: Command, context: CommandContext): void {
  const { act, examples } = commandKit(program, context)

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
