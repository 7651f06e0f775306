// Type-aware lint for floating promises only (CI: `pnpm lint:promises`). Biome formats and lints
// everything else; its nursery `noFloatingPromises` misses promises reached through imported
// types (e.g. `kernel.bus.publish(…)`), which typescript-eslint's rule sees.
import tseslint from 'typescript-eslint'

export default tseslint.config(
  {
    // Outside the root tsconfig (not type-checked by `tsc -p tsconfig.json` either).
    ignores: [
      '**/dist/**',
      '**/node_modules/**',
      'docs/**',
      '**/*.js',
      '**/*.mjs',
      '**/*.cjs',
      '**/scripts/**',
      '**/drizzle.config.ts',
    ],
  },
  {
    files: ['**/*.ts'],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { '@typescript-eslint': tseslint.plugin },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
    },
  },
)
