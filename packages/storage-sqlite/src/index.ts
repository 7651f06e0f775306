/// <reference types="node" preserve="true" />
/**
 * SQLite storage adapter for Core Runtime (drizzle-orm + better-sqlite3), the embedded default.
 *
 * @module @core/storage-sqlite
 */
export type { CreateSqliteAdapterOptions } from './sqlite-adapter.js'
export { createSqliteAdapter } from './sqlite-adapter.js'
