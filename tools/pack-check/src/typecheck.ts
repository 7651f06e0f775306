/**
 * The per-consumer jobs of the pack check: strict type checks of the declarations alone and of
 * the README example (TypeScript 5.9 and 7, NodeNext and bundler), the example run from the
 * npm and the pnpm consumer, each `bin --help`, and the hub's start-and-stop.
 */
import { cpSync, existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { hubStarts, startAndStop } from './hub-start.js'
import type { Consumer, run as runFn } from './pack-check.js'

type Run = typeof runFn
type Check = (what: string, result: { code: number | null; output: string }, ok?: boolean) => void

const COMPILERS = { 'ts5.9': 'typescript', ts7: 'typescript-7' } as const
const RESOLUTIONS = {
  nodenext: { module: 'nodenext', moduleResolution: 'nodenext' },
  bundler: { module: 'esnext', moduleResolution: 'bundler' },
} as const

/** The config of the declarations check of `compiler` and `resolution`, in every consumer. */
export const declsConfig = (compiler: keyof typeof COMPILERS, resolution: string): string =>
  `tsconfig.decls.${compiler}.${resolution}.json`

/**
 * The jobs for one consumer: `pnpmDir` holds the type checks; examples run in both folders.
 * TypeScript 7 runs `tsc` per check; TypeScript 5.9 (ten times slower) runs in one process per
 * consumer (`ts59.ts own`: our files' diagnostics; the third-party declarations are checked
 * once for all consumers by {@link thirdPartyJobs}).
 */
export function typecheckJobs(
  c: Consumer,
  pnpmDir: string,
  npmDir: string,
  toolDir: string,
  run: Run,
  check: Check,
): (() => Promise<void>)[] {
  const tsc = join(toolDir, 'node_modules', COMPILERS.ts7, 'bin', 'tsc')
  const jobs: (() => Promise<void>)[] = []
  const name = c.pkg.name
  const ts59: { config: string; what: string }[] = []

  const hasDecls = (c.files['decls.ts'] ?? '') !== ''
  for (const compiler of hasDecls ? (Object.keys(COMPILERS) as (keyof typeof COMPILERS)[]) : []) {
    for (const [resolution, options] of Object.entries(RESOLUTIONS)) {
      const config = declsConfig(compiler, resolution)
      writeConfig(join(pnpmDir, config), ['decls.ts'], DECLS_OPTIONS(options))
      const what = `${name}: declarations alone, ${compiler} ${resolution}, strict, skipLibCheck false, types []`
      if (compiler === 'ts5.9') {
        ts59.push({ config, what })
        continue
      }
      jobs.push(async () => check(what, await run(tsc, ['-p', config], { cwd: pnpmDir })))
    }
  }

  if (c.hasExample) {
    writeConfig(join(pnpmDir, 'tsconfig.example.ts7.json'), ['example.ts'], {
      ...RESOLUTIONS.bundler,
      types: ['node'],
      lib: ['es2023'],
      noEmit: true,
    })
    jobs.push(async () =>
      check(
        `${name}: README example, ts7 bundler`,
        await run(tsc, ['-p', 'tsconfig.example.ts7.json'], { cwd: pnpmDir }),
      ),
    )
    writeConfig(join(pnpmDir, 'tsconfig.example.json'), ['example.ts'], {
      ...RESOLUTIONS.nodenext,
      types: ['node'],
      lib: ['es2023'],
      outDir: 'out',
      noEmitOnError: false,
    })
    ts59.push({ config: 'tsconfig.example.json', what: `${name}: README example, ts5.9 nodenext` })
  }

  if (ts59.length > 0) {
    jobs.push(async () => {
      const result = await run(
        join(toolDir, 'node_modules', '.bin', 'tsx'),
        [join(toolDir, 'src', 'ts59.ts'), 'own', ...ts59.map((t) => t.config)],
        { cwd: pnpmDir, timeoutMs: 900_000 },
      )
      for (const t of ts59) check(t.what, ts59Result(result, t.config))
      if (!c.runExample || !existsSync(join(pnpmDir, 'out', 'example.js'))) return
      cpSync(join(pnpmDir, 'out'), join(npmDir, 'out'), { recursive: true })
      for (const [manager, dir] of [
        ['pnpm', pnpmDir],
        ['npm', npmDir],
      ] as const) {
        check(
          `${name}: README example runs (${manager})`,
          await run('node', ['out/example.js'], { cwd: dir, timeoutMs: 60_000 }),
        )
      }
    })
  }

  const bins = c.pkg.manifest.bin
  for (const bin of typeof bins === 'object' && bins !== null ? Object.keys(bins) : []) {
    jobs.push(async () => {
      for (const [manager, dir] of [
        ['pnpm', pnpmDir],
        ['npm', npmDir],
      ] as const) {
        check(
          `${name}: ${bin} --help (${manager})`,
          await run(join(dir, 'node_modules', '.bin', bin), ['--help'], { cwd: dir }),
        )
      }
    })
  }
  if (name === '@core/hub') {
    // Both `core` bins (@core/hub's and @core/cli's) start the hub, wherever the package
    // manager linked node_modules/.bin/core.
    for (const [manager, dir] of [
      ['pnpm', pnpmDir],
      ['npm', npmDir],
    ] as const) {
      for (const start of hubStarts(dir, manager)) {
        jobs.push(async () =>
          check(
            `${name}: ${start.what}, /health, Ctrl+C exits 0 (${manager})`,
            await startAndStop(start.bin, dir),
          ),
        )
      }
    }
  }
  return jobs
}

/**
 * TypeScript 5.9, every third-party declaration file the consumers' declaration checks reach,
 * under `skipLibCheck: false`: one program per resolution over every consumer's `decls.ts`.
 */
export function thirdPartyJobs(dirs: string[], toolDir: string, run: Run, check: Check) {
  return Object.keys(RESOLUTIONS).map((resolution) => async () => {
    const config = declsConfig('ts5.9', resolution)
    const result = await run(
      join(toolDir, 'node_modules', '.bin', 'tsx'),
      [join(toolDir, 'src', 'ts59.ts'), 'all', ...dirs.map((dir) => join(dir, config))],
      { cwd: toolDir, timeoutMs: 900_000 },
    )
    check(
      `third-party declarations the packages use, ts5.9 ${resolution}, skipLibCheck false`,
      result,
    )
  })
}

/** The part of a `ts59.ts own` run about `config`. */
function ts59Result(result: { code: number | null; output: string }, config: string) {
  const lines = result.output.split('\n')
  const start = lines.findIndex((line) => line === `ok ${config}` || line === `FAIL ${config}`)
  if (start < 0) return { code: result.code === 0 ? 1 : result.code, output: result.output }
  const rest = lines.slice(start + 1)
  const end = rest.findIndex((line) => /^(ok|FAIL) /.test(line))
  const output = [lines[start], ...rest.slice(0, end < 0 ? undefined : end)].join('\n')
  return { code: lines[start]?.startsWith('ok ') ? 0 : 1, output }
}

const DECLS_OPTIONS = (resolution: (typeof RESOLUTIONS)[keyof typeof RESOLUTIONS]) => ({
  ...resolution,
  types: [],
  lib: ['es2023'],
  noEmit: true,
})

function writeConfig(file: string, files: string[], options: Record<string, unknown>): void {
  const compilerOptions = {
    target: 'es2022',
    strict: true,
    skipLibCheck: false,
    noUncheckedIndexedAccess: true,
    verbatimModuleSyntax: true,
    ...options,
  }
  writeFileSync(file, `${JSON.stringify({ compilerOptions, files }, null, 2)}\n`)
}
