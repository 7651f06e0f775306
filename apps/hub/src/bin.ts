#!/usr/bin/env node
/**
 * The `core` command with this hub built in: `core start [--config <file>]` runs
 * {@link runHub} in this process; every other command (`call`, `state`, `events`, `plugins`,
 * `health`, `token`, …) talks to a running hub over HTTP, as `@core/cli`'s own `core` does.
 * Exit codes: `@core/cli`'s EXIT_CODES; `start` exits with what the hub returns.
 */
import { runCli } from '@core/cli'
import { runHub } from './run-hub.js'

// `core events tail … | head` closes stdout early: that is a normal end, not a crash.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0)
  throw error
})

process.exitCode = await runCli(process.argv.slice(2), { start: (options) => runHub(options) })
