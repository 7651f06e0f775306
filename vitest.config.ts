import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

const root = fileURLToPath(new URL('.', import.meta.url))

export default defineConfig({
  resolve: {
    alias: [
      // @core/x → packages/x/src/index.ts, @core/x/y → packages/x/src/y.ts (tests run on source)
      { find: /^@core\/([^/]+)$/, replacement: `${root}packages/$1/src/index.ts` },
      { find: /^@core\/([^/]+)\/(.+)$/, replacement: `${root}packages/$1/src/$2.ts` },
    ],
  },
  test: {
    include: [
      'packages/*/test/**/*.test.ts',
      'apps/**/test/**/*.test.ts',
      'tools/*/test/**/*.test.ts',
    ],
    exclude: ['**/node_modules/**', '**/dist/**'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    pool: 'forks',
    reporters: process.env.CI ? ['default'] : ['default'],
  },
})
