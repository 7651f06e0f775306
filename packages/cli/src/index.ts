/// <reference types="node" preserve="true" />
/**
 * The `core` command: start a Core Runtime hub, and call services, read and write state, tail
 * events, manage plugins and tokens of a running hub over HTTP.
 *
 * @module @core/cli
 */
export { createCli, runCli } from './cli.js'
export { EXIT_CODES, exitCodeOf } from './exit-codes.js'
export type { HubModuleSearch } from './hub-module.js'
export { HUB_INSTALL_HINT, startHubFromModule } from './start.js'
export type { CliWriter, CreateCliOptions, HubStart, HubStartOptions } from './types.js'
export { DEFAULT_HUB_URL, DEFAULT_TIMEOUT_MS } from './types.js'
