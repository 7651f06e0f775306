import { defineConfig } from 'drizzle-kit'

// `npx drizzle-kit generate` (from packages/storage-sqlite) writes a new versioned SQL migration
// into ./drizzle after a change to src/schema.ts; commit it. The adapter applies them on open.
export default defineConfig({
  dialect: 'sqlite',
  schema: './src/schema.ts',
  out: './drizzle',
})
