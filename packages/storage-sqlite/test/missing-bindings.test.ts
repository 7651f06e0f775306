import { CoreError } from '@core/contracts'
import { describe, expect, it, vi } from 'vitest'
import { createSqliteAdapter } from '../src/index.js'

// better-sqlite3 loads its native module in the constructor; under pnpm 10 without an allowed
// build script, that module was never compiled and the constructor throws this.
vi.mock('better-sqlite3', () => ({
  default: class {
    constructor() {
      throw new Error(
        'Could not locate the bindings file. Tried:\n → /x/node_modules/better-sqlite3/build/better_sqlite3.node',
      )
    }
  },
}))

describe('createSqliteAdapter without better-sqlite3’s native module', () => {
  it('refuses with E_STORAGE and says how to build the module with pnpm and npm', async () => {
    const error = await createSqliteAdapter({ filename: ':memory:' }).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(CoreError.is(error, 'E_STORAGE')).toBe(true)
    const message = (error as CoreError).message
    expect(message).toContain('Could not locate the bindings file')
    expect(message).toContain('pnpm approve-builds')
    expect(message).toContain('onlyBuiltDependencies')
    expect(message).toContain('npm rebuild better-sqlite3')
    expect((error as CoreError).cause).toBeInstanceOf(Error)
  })
})
