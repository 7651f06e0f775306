/** The hub URL used when neither `--url` nor `CORE_URL` is given. @public */
export const DEFAULT_HUB_URL = 'http://127.0.0.1:8080'

/** The request deadline used when `--timeout` is not given, ms. @public */
export const DEFAULT_TIMEOUT_MS = 60_000

/** Where the CLI writes: `process.stdout`, `process.stderr`, or anything with `write(text)`. @public */
export interface CliWriter {
  write(chunk: string): unknown
}

/** What `core start` passes to the hub. @public */
export interface HubStartOptions {
  /** The config file given with `--config` (relative to the working directory), if any. */
  config?: string
}

/**
 * Runs a hub until it is stopped (SIGINT or SIGTERM), then resolves. A number it resolves with
 * is the exit code; anything else (e.g. nothing) means 0. A rejection is reported like any
 * other error.
 * @public
 */
export type HubStart = (options: HubStartOptions) => Promise<unknown>

/** Options of {@link createCli} and {@link runCli}. @public */
export interface CreateCliOptions {
  /**
   * What `core start` runs. Without it, `core start` fails with `E_UNAVAILABLE` (the `core` bin
   * passes {@link startHubFromModule}).
   */
  start?: HubStart
  /** Environment read for `CORE_URL` and `CORE_TOKEN`. @defaultValue process.env */
  env?: Readonly<Record<string, string | undefined>>
  /** @defaultValue process.stdout */
  stdout?: CliWriter
  /** @defaultValue process.stderr */
  stderr?: CliWriter
  /** Read when a JSON argument is `-`. @defaultValue process.stdin */
  stdin?: AsyncIterable<string | Uint8Array>
  /** The fetch used for every request. @defaultValue globalThis.fetch */
  fetch?: typeof fetch
  /**
   * Ends `core events tail` (with exit 0) and cancels requests in flight. @defaultValue the
   * first SIGINT or SIGTERM received while a command runs
   */
  signal?: AbortSignal
  /** Program name in help and messages. @defaultValue 'core' */
  name?: string
  /** What `--version` prints. @defaultValue this package's version */
  version?: string
}
