import { createRequire } from 'node:module'
import { CoreError } from '@core/contracts'
import { Command, CommanderError } from 'commander'
import { registerAdminCommands } from './admin-commands.js'
import { registerCallCommands } from './call-commands.js'
import { createHubClient } from './client.js'
import { registerClusterCommands } from './cluster-commands.js'
import type { CommandContext } from './commands.js'
import { registerEventCommands } from './event-commands.js'
import { EXIT_CODES, exitCodeOf } from './exit-codes.js'
import { formatError, formatJsonLine, problemOf } from './format.js'
import { registerMetaCommands } from './meta-commands.js'
import { registerNodeCommands } from './node-commands.js'
import { parseJsonArgument } from './params.js'
import { registerStateCommands } from './state-commands.js'
import {
  type CreateCliOptions,
  DEFAULT_HUB_URL,
  DEFAULT_TIMEOUT_MS,
  type HubStart,
} from './types.js'

interface RunState {
  json: boolean
  exitCode: number
}

const STATES = new WeakMap<Command, RunState>()

/**
 * Builds the `core` command line (commander): `start`, and the commands that talk to a running
 * hub over HTTP — `call`, `services list`, `state get|set|delete|list`, `events tail|publish`,
 * `plugins list|reload`, `token create|list|revoke`, `health`, `openapi`, `metrics`, `nodes list|get`.
 *
 * Each hub command takes `--url` (env `CORE_URL`, default `http://127.0.0.1:8080`), `--token`
 * (env `CORE_TOKEN`), `--timeout <ms>` (default 60000) and `--json` (one JSON document on
 * stdout; on failure an RFC 9457 problem on stderr). Errors are thrown as CoreErrors out of
 * `parseAsync`; use {@link runCli} to get them printed and mapped to exit codes. The program
 * calls `exitOverride()`, so commander throws a `CommanderError` for usage errors and `--help`
 * instead of exiting. What `parseAsync` rejects with:
 * - `E_VALIDATION`: invalid JSON argument (named), bad `--param`, `--url`, `--timeout`,
 *   `--if-revision`, `--ttl`, `--count`, pattern or event type; params the hub refused;
 * - `E_UNAVAILABLE`: the hub is unreachable or closed the event stream; no `start` given;
 * - `E_TIMEOUT`: no answer within `--timeout`; `E_CANCELLED`: interrupted;
 * - any other code the hub answered with (problem+json `code`, the problem in `details.problem`).
 *
 * @param options - `start` (what `core start` runs), streams, env, fetch, signal.
 * @returns The commander program; run it with `program.parseAsync(argv, { from: 'user' })`.
 * @see commander 14
 * @example
 * ```ts
 * // A hub app's own bin, with `core start` built in:
 * import { runCli } from '@core/cli'
 * import { runHub } from './run-hub.js'
 * process.exitCode = await runCli(process.argv.slice(2), { start: runHub })
 * ```
 * @public
 */
export function createCli(options: CreateCliOptions = {}): Command {
  const name = options.name ?? 'core'
  const env = options.env ?? process.env
  const stdout = options.stdout ?? process.stdout
  const stderr = options.stderr ?? process.stderr
  const state: RunState = { json: false, exitCode: 0 }
  let signal: AbortSignal | undefined
  let releaseSignal: (() => void) | undefined

  const program = new Command(name)
  STATES.set(program, state)
  program
    .description('Start a Core Runtime hub, or talk to a running one over HTTP')
    .version(options.version ?? packageVersion(), '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help for a command')
    .helpCommand('help [command]', 'show help for a command')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => stdout.write(text),
      writeErr: (text) => stderr.write(text),
      // runCli prints usage errors itself, in the `error E_VALIDATION: …` form.
      outputError: () => undefined,
    })
    .showSuggestionAfterError(true)
    .addHelpText(
      'after',
      `
Environment:
  CORE_URL    hub URL (default ${DEFAULT_HUB_URL})
  CORE_TOKEN  bearer token (from \`${name} token create\`)

Exit codes: 0 ok, 1 failure (E_INTERNAL…), 2 usage or E_VALIDATION, 3 E_NOT_FOUND or
E_SERVICE_NOT_FOUND, 4 E_UNAUTHENTICATED or E_FORBIDDEN, 5 E_CONFLICT, 6 E_TIMEOUT,
7 E_UNAVAILABLE (hub not reachable).`,
    )

  program
    .command('start')
    .description('run the hub in this process until Ctrl+C')
    .option('-c, --config <file>', 'hub config file, JSON or YAML (the hub also reads CORE_CONFIG)')
    .addHelpText('after', `\nExample:\n  $ ${name} start --config hub.config.yaml`)
    .action(async (opts: { config?: string }) => {
      const start: HubStart | undefined = options.start
      if (start === undefined) {
        throw new CoreError(
          'E_UNAVAILABLE',
          `This \`${name}\` has no hub to start: run it from a hub that provides one (e.g. the @core/hub package)`,
        )
      }
      const code = await start(opts.config === undefined ? {} : { config: opts.config })
      if (typeof code === 'number') state.exitCode = code
    })

  const context: CommandContext = {
    stdout,
    stderr,
    print(opts, people, value) {
      stdout.write(opts.json ? formatJsonLine(value) : people())
    },
    client(opts) {
      state.json = opts.json === true
      const timeoutMs = opts.timeout === undefined ? DEFAULT_TIMEOUT_MS : Number(opts.timeout)
      if (!Number.isInteger(timeoutMs) || timeoutMs < 1) {
        throw new CoreError(
          'E_VALIDATION',
          `--timeout "${opts.timeout}" must be a positive whole number of milliseconds`,
          { details: { argument: '--timeout' } },
        )
      }
      return createHubClient({
        url: opts.url ?? nonEmpty(env.CORE_URL) ?? DEFAULT_HUB_URL,
        token: opts.token ?? nonEmpty(env.CORE_TOKEN),
        timeoutMs,
        fetch: options.fetch ?? globalThis.fetch,
        signal: context.signal(),
      })
    },
    async json(text, argument) {
      const source = text === '-' ? await readAll(options.stdin ?? process.stdin) : text
      return parseJsonArgument(source, text === '-' ? `${argument} (stdin)` : argument)
    },
    signal() {
      if (signal === undefined) {
        if (options.signal !== undefined) signal = options.signal
        else ({ signal, release: releaseSignal } = interruptSignal())
      }
      return signal
    },
    release() {
      releaseSignal?.()
      releaseSignal = undefined
      signal = undefined
    },
    exit(code) {
      state.exitCode = code
    },
  }
  registerCallCommands(program, context)
  registerStateCommands(program, context)
  registerEventCommands(program, context)
  registerAdminCommands(program, context)
  registerMetaCommands(program, context)
  registerNodeCommands(program, context)
  registerClusterCommands(program, context)
  return program
}

/**
 * Runs the `core` command line and returns the exit code, never throwing: a failure prints
 * `error E_CODE: message` to stderr (with `--json`, the RFC 9457 problem as one JSON line
 * instead) and maps to {@link EXIT_CODES}; a usage error (unknown command or option, missing
 * argument) is `E_VALIDATION`, exit 2; `--help` and `--version` exit 0.
 *
 * @param argv - The arguments after the program name (`process.argv.slice(2)`).
 * @param options - As for {@link createCli}.
 * @returns The exit code: 0 on success, else 1–7 per {@link EXIT_CODES}, or what `start` returned.
 * @example
 * ```ts
 * process.exitCode = await runCli(['state', 'get', 'devices', 'light.kitchen', '--json'])
 * ```
 * @public
 */
export async function runCli(
  argv: readonly string[],
  options: CreateCliOptions = {},
): Promise<number> {
  const stderr = options.stderr ?? process.stderr
  let program: Command | undefined
  try {
    program = createCli(options)
    await program.parseAsync([...argv], { from: 'user' })
    return (STATES.get(program) as RunState).exitCode
  } catch (error) {
    const json = (program !== undefined && STATES.get(program)?.json === true) || wantsJson(argv)
    if (error instanceof CommanderError) {
      if (
        error.code === 'commander.helpDisplayed' ||
        error.code === 'commander.version' ||
        error.exitCode === 0
      ) {
        return 0
      }
      // A command group without its subcommand: commander already printed the group's help.
      if (error.code === 'commander.help') return EXIT_CODES.E_VALIDATION
      const usage = new CoreError(
        'E_VALIDATION',
        `${error.message.replace(/^error: /, '')} (see \`${commandPath(program, argv)} --help\`)`,
        { cause: error, details: { argument: 'argv', commander: error.code } },
      )
      stderr.write(json ? formatJsonLine(problemOf(usage)) : formatError(usage))
      return exitCodeOf(usage)
    }
    stderr.write(json ? formatJsonLine(problemOf(error)) : formatError(error))
    return exitCodeOf(error)
  }
}

/** `core state set`: the program name and the subcommands named at the start of `argv`. */
function commandPath(program: Command | undefined, argv: readonly string[]): string {
  if (program === undefined) return 'core'
  const names = [program.name()]
  let current = program
  for (const token of argv) {
    if (token.startsWith('-')) break
    const next = current.commands.find((c) => c.name() === token || c.aliases().includes(token))
    if (next === undefined) break
    names.push(next.name())
    current = next
  }
  return names.join(' ')
}

/** `--json` among the arguments before `--`. */
function wantsJson(argv: readonly string[]): boolean {
  const end = argv.indexOf('--')
  return (end < 0 ? argv : argv.slice(0, end)).includes('--json')
}

/** An AbortSignal aborted by the next SIGINT or SIGTERM, and how to remove the listeners. */
function interruptSignal(): { signal: AbortSignal; release: () => void } {
  const controller = new AbortController()
  const release = (): void => {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
  const onSignal = (): void => {
    release()
    controller.abort(new CoreError('E_CANCELLED', 'Interrupted'))
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  return { signal: controller.signal, release }
}

async function readAll(stream: AsyncIterable<string | Uint8Array>): Promise<string> {
  const decoder = new TextDecoder()
  let text = ''
  for await (const chunk of stream) {
    text += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true })
  }
  return (text + decoder.decode()).trim()
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim()
}

function packageVersion(): string {
  try {
    // src/ and dist/ are both one level below the package root.
    const pkg = createRequire(import.meta.url)('../package.json') as { version?: unknown }
    return typeof pkg.version === 'string' ? pkg.version : '0.0.0'
  } catch {
    return '0.0.0'
  }
}
