import { CoreError } from '@core/contracts'
import type { Command } from 'commander'
import type { HubClient } from './client.js'
import type { CliWriter } from './types.js'
import { DEFAULT_HUB_URL, DEFAULT_TIMEOUT_MS } from './types.js'

// What every command family (call-, state-, event-, admin-, meta- and node-commands.ts) shares;
// cli.ts builds the context and registers the families.

/** The options every command that talks to a hub accepts. @internal */
export interface HubOptions {
  url?: string
  token?: string
  timeout?: string
  json?: boolean
}

/** What a command's action gets. @internal */
export interface CommandContext {
  readonly stdout: CliWriter
  readonly stderr: CliWriter
  /** Prints people's text, or `value` as one JSON line with `--json`. */
  print(options: HubOptions, people: () => string, value: unknown): void
  /** The client for the command's `--url`, `--token` and `--timeout`. */
  client(options: HubOptions): HubClient
  /** Reads a JSON argument (`-` reads stdin). @throws E_VALIDATION naming `argument`. */
  json(text: string, argument: string): Promise<unknown>
  /** Aborted by Ctrl+C (or the `signal` option). */
  signal(): AbortSignal
  /** Removes the Ctrl+C listeners {@link CommandContext.signal} added; actions call it last. */
  release(): void
  /** Sets the process exit code without failing (e.g. an unhealthy `core health`). */
  exit(code: number): void
}

/** The wrappers every command family uses. @internal */
export interface CommandKit {
  /** Wraps an action so that it releases the Ctrl+C listeners however it ends. */
  act<A extends unknown[]>(handler: (...args: A) => Promise<void>): (...args: A) => Promise<void>
  /** The "Examples:" help text of `lines` (each prefixed with the program name). */
  examples(...lines: string[]): string
}

/** Builds the {@link CommandKit} of `program`. @internal */
export function commandKit(program: Command, context: CommandContext): CommandKit {
  const name = program.name()
  return {
    act:
      <A extends unknown[]>(handler: (...args: A) => Promise<void>) =>
      async (...args: A): Promise<void> => {
        try {
          await handler(...args)
        } finally {
          context.release()
        }
      },
    examples: (...lines: string[]): string =>
      `\nExamples:\n${lines.map((line) => `  $ ${name} ${line}`).join('\n')}`,
  }
}

/** Adds the options every hub command takes. @internal */
export function hub(command: Command): Command {
  return command
    .option('--url <url>', `hub URL (env CORE_URL; default ${DEFAULT_HUB_URL})`)
    .option('--token <token>', 'bearer token (env CORE_TOKEN)')
    .option('--timeout <ms>', `request deadline in milliseconds (default ${DEFAULT_TIMEOUT_MS})`)
    .option('--json', 'JSON on stdout for scripts; errors as problem+json on stderr')
}

/** Commander's collector of a repeatable option. @internal */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value]
}

/** A whole number ≥ `min`. @throws E_VALIDATION naming the option. @internal */
export function integer(value: string, option: string, min: number): number {
  const n = /^\s*-?\d+\s*$/.test(value) ? Number(value) : Number.NaN
  if (!Number.isSafeInteger(n) || n < min) {
    throw new CoreError('E_VALIDATION', `${option} "${value}" must be a whole number ≥ ${min}`, {
      details: { argument: option },
    })
  }
  return n
}

/** `value` if it is an array, else `[]`. @internal */
export function asArray(value: unknown): unknown[] {
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
