import type { Logger } from '@core/contracts'

/** A log level, as pino names them. @public */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error'

/**
 * One line written to a {@link RecordingLogger}: its level, message, the logger's bindings
 * (e.g. `{ plugin: 'devices' }`) merged with the object logged.
 * @public
 */
export interface LogRecord {
  level: LogLevel
  msg: string | undefined
  /** Bindings of the (child) logger plus the fields of the logged object. */
  fields: Record<string, unknown>
}

/**
 * A {@link Logger} that keeps every line in memory, for assertions, and optionally echoes
 * lines at or above a level to stderr.
 * @public
 */
export interface RecordingLogger extends Logger {
  /** Every line logged through this logger and its children, oldest first (the live array). */
  readonly records: LogRecord[]
}

/** Options of {@link createRecordingLogger}. @public */
export interface CreateRecordingLoggerOptions {
  /** Also print lines at or above this level to stderr (as JSON). @defaultValue none printed */
  echo?: LogLevel
}

const RANK: Record<LogLevel, number> = { debug: 20, info: 30, warn: 40, error: 50 }

/**
 * Creates a logger that records what it is given. The mock hub uses one by default so that
 * tests can assert what a plugin or the kernel logged (`hub.logs('warn')`).
 *
 * @param options - `echo`: print lines from this level up to stderr.
 * @returns A {@link RecordingLogger}; its children share its `records`.
 * @example
 * ```ts
 * const logger = createRecordingLogger()
 * logger.child({ plugin: 'hello' }).warn({ n: 1 }, 'careful')
 * logger.records // [{ level: 'warn', msg: 'careful', fields: { plugin: 'hello', n: 1 } }]
 * ```
 * @public
 */
export function createRecordingLogger(options: CreateRecordingLoggerOptions = {}): RecordingLogger {
  const records: LogRecord[] = []
  const echo = options.echo === undefined ? Number.POSITIVE_INFINITY : RANK[options.echo]
  const make = (bindings: Record<string, unknown>): Logger => {
    const write =
      (level: LogLevel) =>
      (a: string | Record<string, unknown>, b?: string): void => {
        const record: LogRecord =
          typeof a === 'string'
            ? { level, msg: a, fields: { ...bindings } }
            : { level, msg: b, fields: { ...bindings, ...a } }
        records.push(record)
        if (RANK[level] >= echo) {
          process.stderr.write(
            `${JSON.stringify({ level, msg: record.msg, ...printable(record.fields) })}\n`,
          )
        }
      }
    return {
      debug: write('debug'),
      info: write('info'),
      warn: write('warn'),
      error: write('error'),
      child: (more) => make({ ...bindings, ...more }),
    }
  }
  return Object.assign(make({}), { records })
}

function printable(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(fields))
    out[k] = v instanceof Error ? { name: v.name, message: v.message } : v
  return out
}
