#!/usr/bin/env node
/**
 * The hub's own command: `core-hub [--config <file>] [--watch] [--help]` (the root `pnpm start`).
 * A thin caller of {@link runHub}: exit codes 0 clean stop (or `--help`), 1 the hub could not
 * start or a plugin failed to stop, 2 bad command line, config file or environment, 130 a
 * second signal while stopping.
 */
import { runHub } from './run-hub.js'

process.exit(await runHub({ argv: process.argv.slice(2) }))
