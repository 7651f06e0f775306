import type { Logger } from '@core/contracts'
import pino from 'pino'
import pretty from 'pino-pretty'
import type { LogLevel } from './config-schema.js'

/**
 * The hub's default logger: pino at `level` on stderr, as human-readable lines (pino-pretty,
 * coloured) when stderr is a terminal, as pino's JSON lines otherwise (a file, a pipe, journald,
 * a container log), so that logs and the startup summary on stdout read well on one screen.
 *
 * @param level - pino level, or `silent`.
 * @param isTerminal - Whether stderr is a terminal. @defaultValue process.stderr.isTTY
 */
export function createHubLogger(
  level: LogLevel,
  isTerminal: boolean = process.stderr.isTTY === true,
): Logger {
  const destination = isTerminal
    ? pretty({ destination: 2, sync: true, colorize: true, translateTime: 'SYS:HH:MM:ss.l' })
    : pino.destination({ dest: 2, sync: true })
  return pino({ name: 'core', level }, destination) as unknown as Logger
}
