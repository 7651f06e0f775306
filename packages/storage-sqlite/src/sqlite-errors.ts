import { CoreError } from '@core/contracts'

export function storageError(error: unknown, what: string, ns?: string, key?: string): CoreError {
  if (CoreError.is(error)) return error
  const code = (error as { code?: unknown } | null)?.code
  return new CoreError(
    'E_STORAGE',
    `SQLite failed to ${what}${target(ns, key)}: ${messageOf(error)}`,
    {
      cause: error,
      details: { namespace: ns, key, sqliteCode: typeof code === 'string' ? code : undefined },
    },
  )
}

export function closedError(): CoreError {
  return new CoreError('E_STORAGE', 'The SQLite storage adapter is closed')
}

export function target(ns: string | undefined, key: string | undefined): string {
  return ns === undefined ? '' : key === undefined ? ` "${ns}"` : ` "${ns}"/"${key}"`
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/**
 * The fix for better-sqlite3's native module missing or built for another Node.js: pnpm 10 runs
 * no dependency build scripts unless allowed, so the addon is never compiled.
 */
export function bindingsHint(error: unknown): string {
  const message = messageOf(error)
  if (
    !/Could not locate the bindings file|better_sqlite3\.node|NODE_MODULE_VERSION|ERR_DLOPEN_FAILED/.test(
      message,
    )
  )
    return ''
  return (
    '. better-sqlite3 has no native module built for this Node.js: with pnpm, allow its build ' +
    '(`pnpm approve-builds`, or "onlyBuiltDependencies": ["better-sqlite3"] in pnpm-workspace.yaml ' +
    'or package.json "pnpm") and run `pnpm rebuild better-sqlite3`; with npm, run `npm rebuild better-sqlite3`'
  )
}
