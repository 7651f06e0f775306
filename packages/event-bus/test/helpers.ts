import type { Clock, Logger } from '@core/contracts'

/** One captured log line. */
export interface LogLine {
  level: 'debug' | 'info' | 'warn' | 'error'
  fields: Record<string, unknown>
  msg: string | undefined
}

/** A logger that keeps what it is told, for assertions. */
export function captureLogger(): Logger & { lines: LogLine[] } {
  const lines: LogLine[] = []
  const at =
    (level: LogLine['level']) =>
    (a: string | Record<string, unknown>, b?: string): void => {
      lines.push(
        typeof a === 'string' ? { level, fields: {}, msg: a } : { level, fields: a, msg: b },
      )
    }
  const logger = {
    lines,
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: () => logger,
  }
  return logger
}

/** A promise the test opens by hand. */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void
  const promise = new Promise<void>((resolve) => {
    open = resolve
  })
  return { promise, open }
}

/** Lets every pending microtask and I/O callback run (one turn of the event loop). */
export function settled(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}

/** A clock stuck at `ms` unless moved. */
export function fixedClock(ms: number): Clock & { set(ms: number): void } {
  let now = ms
  return {
    now: () => now,
    set: (next) => {
      now = next
    },
    setTimeout: () => 0,
    clearTimeout: () => {},
  }
}
