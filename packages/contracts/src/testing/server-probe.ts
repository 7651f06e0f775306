import { connect } from 'node:net'

/**
 * True when the tests run under CI (`CI` set to anything but empty, `0` or `false`): then a
 * test server that cannot be reached fails the suite instead of skipping it.
 * @public
 */
export const IN_CI: boolean = !['', '0', 'false', undefined].includes(process.env.CI)

/**
 * Opens a TCP connection to the host and port of `url` and closes it.
 * @param url - A URL with a host and port (`mqtt://127.0.0.1:1883`), or `host:port`.
 * @param timeoutMs - How long to wait for the connection, in milliseconds. @defaultValue 2_000
 * @returns Why it failed, or `undefined` when the port answered.
 * @public
 */
export function probeTcp(url: string, timeoutMs = 2_000): Promise<string | undefined> {
  const parsed = new URL(url.includes('://') ? url : `tcp://${url}`)
  const host = parsed.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1'
  const port = Number(parsed.port)
  return new Promise((resolve) => {
    const socket = connect({ host, port })
    const done = (reason: string | undefined): void => {
      socket.destroy()
      resolve(reason)
    }
    socket.setTimeout(timeoutMs, () => done(`no answer within ${timeoutMs} ms`))
    socket.once('connect', () => done(undefined))
    socket.once('error', (error) => done(error.message))
  })
}

/** Options of {@link probeServer}. @public */
export interface ProbeServerOptions {
  /** What the server is, for messages: `PostgreSQL`, `Mosquitto`. */
  name: string
  /** Its address (shown in messages without credentials, and probed when `probe` is not given). */
  url: string
  /** How to start it: `start it with: redis-server --port 6379`. */
  hint: string
  /** Checks the server speaks (a query, a ping); resolves why not, or `undefined`. @defaultValue a TCP connection ({@link probeTcp}) */
  probe?: (url: string) => Promise<string | undefined>
  /** The package, as the prefix of the local skip warning. */
  tag?: string
}

/**
 * Whether a real server the tests need answers, and the suite helpers that follow the rule:
 * when it does not, suites fail under CI ({@link IN_CI}) and skip locally with a message that
 * says how to start it.
 * @public
 */
export interface ServerProbe {
  /** True when the server answered. */
  readonly reachable: boolean
  /** Why it did not, or `undefined`. */
  readonly reason: string | undefined
  /** The message given when it is unreachable (address, reason, how to start it). */
  readonly message: string
  /** True when suites must be skipped: unreachable and not under CI (warns once). */
  readonly skip: boolean
  /** For `beforeAll`: throws the message when the server is unreachable (under CI). */
  require(): void
  /**
   * `describe` that needs the server: runs `body` (then `cleanup`, as `afterAll`) when it
   * answers; otherwise one failing test under CI, or a skip with a warning locally.
   */
  describe(name: string, body: () => void, cleanup?: () => Promise<void> | void): void
}

/**
 * Probes a test server once and returns its {@link ServerProbe}.
 * @param options - The server's `name`, `url`, start `hint`, `probe`, `tag`.
 * @returns The probe's verdict and suite helpers.
 * @example
 * ```ts
 * const redis = await probeServer({ name: 'Redis', url: 'redis://127.0.0.1:6379',
 *   hint: 'start it with: redis-server --port 6379' })
 * redis.describe('redis state backend', () => { it('…', async () => {}) })
 * ```
 * @public
 */
export async function probeServer(options: ProbeServerOptions): Promise<ServerProbe> {
  const { afterAll, describe, it } = await import('vitest')
  const reason = await (options.probe ?? probeTcp)(options.url)
  const shown = options.url.replace(/\/\/[^@/]*@/, '//')
  const message = `${options.name} at ${shown} is unreachable (${reason}); ${options.hint}`
  const prefix = options.tag === undefined ? '' : `[${options.tag}] `
  const reachable = reason === undefined
  const skip = !reachable && !IN_CI
  if (skip) console.warn(`${prefix}skipping the ${options.name} tests: ${message}`)
  return {
    reachable,
    reason,
    message,
    skip,
    require() {
      if (!reachable) throw new Error(`${message} (CI=true requires it)`)
    },
    describe(name, body, cleanup) {
      if (reachable) {
        describe(name, () => {
          if (cleanup !== undefined) afterAll(cleanup)
          body()
        })
        return
      }
      if (IN_CI) {
        describe(name, () => {
          it(`needs a reachable ${options.name} under CI=true`, () => {
            throw new Error(message)
          })
        })
        return
      }
      describe.skipIf(true)(name, body)
    },
  }
}
