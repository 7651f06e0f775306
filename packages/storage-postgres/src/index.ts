export type { CreatePostgresAdapterOptions } from './connection.js'
export { createPostgresAdapter } from './postgres-adapter.js'
