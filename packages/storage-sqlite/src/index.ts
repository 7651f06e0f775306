export type { CreateSqliteAdapterOptions } from './sqlite-adapter.js'
export { createSqliteAdapter } from './sqlite-adapter.js'
