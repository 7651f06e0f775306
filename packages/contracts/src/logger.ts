/**
 * A log method in pino's calling convention: `(msg)` or `(obj, msg?)`.
 * @public
 */
export interface LogFn {
  (msg: string): void
  (obj: Record<string, unknown>, msg?: string): void
}

/**
 * The logger the kernel and its packages write to. A pino logger fits it as is; the kernel
 * passes a pino child bound to each plugin.
 * @public
 */
export interface Logger {
  debug: LogFn
  info: LogFn
  warn: LogFn
  error: LogFn
  /** A logger that adds `bindings` to every line. */
  child(bindings: Record<string, unknown>): Logger
}

const noop = (): void => {}

/** A logger that drops everything. @public */
export const silentLogger: Logger = {
  debug: noop,
  info: noop,
  warn: noop,
  error: noop,
  child: () => silentLogger,
}

/**
 * A logger that writes warnings and errors to stderr as one JSON line each (pino-like:
 * `level`, `time`, `msg` and the bindings), and drops debug and info. The default of the
 * primitives when no logger is given, so that a failing handler is never silent.
 * @public
 */
export function createStderrLogger(bindings: Record<string, unknown> = {}): Logger {
  const write =
    (level: number) =>
    (a: string | Record<string, unknown>, b?: string): void => {
      const line =
        typeof a === 'string'
          ? { level, time: Date.now(), ...bindings, msg: a }
          : { level, time: Date.now(), ...bindings, ...serialisable(a), msg: b }
      process.stderr.write(`${JSON.stringify(line)}\n`)
    }
  return {
    debug: noop,
    info: noop,
    warn: write(40),
    error: write(50),
    child: (more) => createStderrLogger({ ...bindings, ...more }),
  }
}

function serialisable(obj: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(obj)) {
    out[k] =
      v instanceof Error
        ? { type: v.name, message: v.message, code: (v as { code?: unknown }).code }
        : v
  }
  return out
}
