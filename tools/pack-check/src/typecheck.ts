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

/** The jobs for one consumer: `pnpmDir` holds the type checks; examples run in both folders. */
export function typecheckJobs(
  c: Consumer,
  pnpmDir: string,
  npmDir: string,
  toolDir: string,
  run: Run,
  check: Check,
): (() => Promise<void>)[] {
  const tsc = (compiler: keyof typeof COMPILERS): string =>
    join(toolDir, 'node_modules', COMPILERS[compiler], 'bin', 'tsc')
  const jobs: (() => Promise<void>)[] = []
  const name = c.pkg.name

  const hasDecls = (c.files['decls.ts'] ?? '') !== ''
  for (const compiler of hasDecls ? (Object.keys(COMPILERS) as (keyof typeof COMPILERS)[]) : []) {
    for (const [resolution, options] of Object.entries(RESOLUTIONS)) {
      jobs.push(async () => {
        const config = `tsconfig.decls.${compiler}.${resolution}.json`
        writeConfig(join(pnpmDir, config), ['decls.ts'], {
          ...options,
          types: [],
          lib: ['es2023'],
          noEmit: true,
        })
        check(
          `${name}: declarations alone, ${compiler} ${resolution}, strict, skipLibCheck false, types []`,
          await run(tsc(compiler), ['-p', config], { cwd: pnpmDir }),
        )
      })
    }
  }

  if (c.hasExample) {
    jobs.push(async () => {
      writeConfig(join(pnpmDir, 'tsconfig.example.ts7.json'), ['example.ts'], {
        ...RESOLUTIONS.bundler,
        types: ['node'],
        lib: ['es2023'],
        noEmit: true,
      })
      check(
        `${name}: README example, ts7 bundler`,
        await run(tsc('ts7'), ['-p', 'tsconfig.example.ts7.json'], { cwd: pnpmDir }),
      )
    })
    jobs.push(async () => {
      writeConfig(join(pnpmDir, 'tsconfig.example.json'), ['example.ts'], {
        ...RESOLUTIONS.nodenext,
        types: ['node'],
        lib: ['es2023'],
        outDir: 'out',
        noEmitOnError: false,
      })
      const compiled = await run(tsc('ts5.9'), ['-p', 'tsconfig.example.json'], { cwd: pnpmDir })
      check(`${name}: README example, ts5.9 nodenext`, compiled)
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
