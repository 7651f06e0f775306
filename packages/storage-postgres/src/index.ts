/// <reference types="node" preserve="true" />
/**
 * PostgreSQL storage adapter for Core Runtime: JSONB documents, drizzle-kit migrations,
 * postgres.js pool.
 *
 * @module @core/storage-postgres
 */
export type { CreatePostgresAdapterOptions } from './connection.js'
export { createPostgresAdapter } from './postgres-adapter.js'
