#!/usr/bin/env node
/**
 * The `core` command. `core start` finds the hub module named by `CORE_HUB_MODULE` (default
 * `@core/hub`: in the working directory's project first, then next to this CLI) and runs its
 * `runHub()`, as `@core/hub`'s own `core` does; every other command talks to a running hub over
 * HTTP.
 * Exit codes: see EXIT_CODES.
 */
import { runCli } from './cli.js'
import { startHubFromModule } from './start.js'

// `core events tail … | head` closes stdout early: that is a normal end, not a crash.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0)
  throw error
})

process.exitCode = await runCli(process.argv.slice(2), {
  start: (options) => startHubFromModule(options),
})
