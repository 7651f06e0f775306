import { type Clock, systemClock } from './clock.js'
import { CoreError } from './errors.js'

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

/** Options of {@link rateLimited}. @public */
export interface RateLimitedOptions {
  /** Length of one window per key, ms (integer ≥ 1). @defaultValue 60_000 */
  intervalMs?: number
  /** Lines written per key and window before the rest are suppressed (integer ≥ 0). @defaultValue 10 */
  burst?: number
  /**
   * Most keys tracked at once (integer ≥ 1); lines of further keys share one overflow key,
   * `(other)`, so that a flood of distinct keys cannot grow memory. @defaultValue 1_000
   */
  maxKeys?: number
  /** Time source and timers (the summary is written by a timer). @defaultValue systemClock */
  clock?: Clock
}

/**
 * A logger whose lines are rate-limited per key: see {@link rateLimited}.
 * @public
 */
export interface RateLimitedLogger {
  /** Writes `msg` at warn unless `key` already wrote `burst` lines in this window. */
  warn(key: string, obj: Record<string, unknown>, msg: string): void
  /** Writes `msg` at error unless `key` already wrote `burst` lines in this window. */
  error(key: string, obj: Record<string, unknown>, msg: string): void
  /** Lines suppressed since creation, over all keys. */
  readonly suppressed: number
  /** Writes the pending "suppressed N" summaries now and forgets every window (e.g. on stop). */
  flush(): void
}

/**
 * Wraps `logger` so that a repeated warning cannot flood the log: per `key`, the first
 * `burst` lines of each `intervalMs` window are written as given, the rest are dropped and
 * counted, and when the window ends one summary line is written at warn:
 * `{ key, suppressed, intervalMs }` "suppressed N similar log lines (…) in the last … ms".
 * The next line of that key starts a new window.
 *
 * Keys name the kind of event, not the instance (`mqtt.call.refused`, not the topic), so that
 * 10,000 distinct bad inputs still share one budget. Suppressed lines cost a map lookup and a
 * counter, never serialisation of their object (no stack traces).
 *
 * @param logger - Where lines and summaries go.
 * @param options - `intervalMs`, `burst`, `maxKeys`, `clock`; all optional.
 * @returns The {@link RateLimitedLogger}.
 * @throws {@link CoreError} `E_VALIDATION` for an option that is not a positive integer
 *   (`burst` may be 0: only summaries are written).
 * @example
 * ```ts
 * const limited = rateLimited(logger, { intervalMs: 60_000, burst: 5 })
 * for (let i = 0; i < 10_000; i++) limited.warn('call.missing', { service }, 'no such service')
 * // 5 lines now, and one "suppressed 9995 similar log lines" line a minute later
 * ```
 * @public
 */
export function rateLimited(logger: Logger, options: RateLimitedOptions = {}): RateLimitedLogger {
  const intervalMs = positiveInteger('intervalMs', options.intervalMs ?? 60_000, 1)
  const burst = positiveInteger('burst', options.burst ?? 10, 0)
  const maxKeys = positiveInteger('maxKeys', options.maxKeys ?? 1_000, 1)
  const clock = options.clock ?? systemClock
  const windows = new Map<string, LogWindow>()
  let suppressed = 0

  const summarise = (key: string, window: LogWindow): void => {
    if (window.timer !== undefined) clock.clearTimeout(window.timer)
    windows.delete(key)
    if (window.suppressed === 0) return
    logger.warn(
      { key, suppressed: window.suppressed, intervalMs },
      `suppressed ${window.suppressed} similar log lines (${key}) in the last ${intervalMs} ms`,
    )
  }

  const write = (
    level: 'warn' | 'error',
    key: string,
    obj: Record<string, unknown>,
    msg: string,
  ): void => {
    const now = clock.now()
    let window = windows.get(key)
    if (window !== undefined && now - window.startedAt >= intervalMs) {
      summarise(key, window)
      window = undefined
    }
    if (window === undefined) {
      if (windows.size >= maxKeys && key !== OVERFLOW_KEY) {
        write(level, OVERFLOW_KEY, obj, msg)
        return
      }
      window = { startedAt: now, written: 0, suppressed: 0, timer: undefined }
      windows.set(key, window)
    }
    if (window.written < burst) {
      window.written++
      logger[level](obj, msg)
      return
    }
    window.suppressed++
    suppressed++
    if (window.timer === undefined) {
      const current = window
      current.timer = clock.setTimeout(
        () => {
          current.timer = undefined
          if (windows.get(key) === current) summarise(key, current)
        },
        Math.max(0, current.startedAt + intervalMs - now),
      )
    }
  }

  return {
    warn: (key, obj, msg) => write('warn', key, obj, msg),
    error: (key, obj, msg) => write('error', key, obj, msg),
    get suppressed() {
      return suppressed
    },
    flush: () => {
      for (const [key, window] of [...windows]) summarise(key, window)
    },
  }
}

const OVERFLOW_KEY = '(other)'

interface LogWindow {
  startedAt: number
  written: number
  suppressed: number
  timer: unknown
}

function positiveInteger(name: string, value: number, min: number): number {
  if (!Number.isInteger(value) || value < min) {
    throw new CoreError(
      'E_VALIDATION',
      `Invalid rateLimited option ${name} ${JSON.stringify(value)}: use an integer ≥ ${min}`,
      { details: { option: name } },
    )
  }
  return value
}
