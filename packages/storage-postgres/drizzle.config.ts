import { defineConfig } from 'drizzle-kit'

// `npx drizzle-kit generate` (in this folder) writes the SQL migrations of src/schema.ts to
// drizzle/. Commit them; the adapter applies them on open (see src/migrate.ts).
export default defineConfig({
  dialect: 'postgresql',
  schema: './src/schema.ts',
  out: './drizzle',
})
