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
    // Most test files wait on sockets, child processes and timers rather than on the CPU. The
    // default (available cores − 1) is one worker on a 2-core machine, which ran the 160 files
    // one after another (21 min on a loaded machine, 8.5 min on a quiet one); four workers keep
    // both cores busy while the others wait. Override with `vitest run --maxWorkers=N`.
    maxWorkers: 4,
    reporters: process.env.CI ? ['default'] : ['default'],
  },
})
