/**
 * The pack check: what a stranger gets from the registry, tried before we publish.
 *
 * 1. `pnpm -r pack` every publishable package (built `dist/` required: run `pnpm build` first).
 * 2. publint (strict) and Are The Types Wrong (`--profile esm-only`) on every tarball.
 * 3. For every package, a fresh consumer project per package manager that installs only what
 *    the package's README Install section says (the `@core/*` ones from the tarballs, through
 *    overrides, the rest from the registry): with pnpm (all consumers in one throwaway pnpm
 *    workspace: one install, each project still sees only its own dependencies) and with npm
 *    (one install per consumer).
 * 4. In the pnpm consumer: the package's declarations alone (every export subpath, `types: []`,
 *    `lib: ["es2023"]`, `strict`, `skipLibCheck: false`) type-check under TypeScript 5.9 and 7,
 *    NodeNext and bundler resolution; the README example type-checks too (with the consumer's
 *    `@types/node`), then runs from the npm and the pnpm consumer. A package with a `bin` runs
 *    it with `--help`; `@core/hub` (installed with `@core/cli`: both have a `core` bin) starts
 *    from either bin (`core start`), answers, and stops cleanly on SIGINT (hub-start.ts).
 *    TypeScript 5.9 runs in one process per consumer (ts59.ts).
 * 5. A last line: packages checked, failures, seconds.
 *
 * Usage: `pnpm pack-check [package…]` (short names: `event-bus`, `hub`). Env:
 * `PACK_CHECK_JOBS` (parallel jobs, default 2), `PACK_CHECK_KEEP=1` (keep the temp folder).
 * Exit 0 when everything passed; 1 otherwise, with every failure listed at the end.
 */
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs'
import { mkdir, readdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { readReadme } from './readme.js'
import { thirdPartyJobs, typecheckJobs } from './typecheck.js'

const ROOT = resolve(fileURLToPath(new URL('../../..', import.meta.url)))
const HERE = resolve(fileURLToPath(new URL('..', import.meta.url)))
const JOBS = Math.max(1, Number(process.env.PACK_CHECK_JOBS ?? 2))
const PNPM = ['npx', '--yes', 'pnpm@10']
const started = Date.now()

export interface Pkg {
  name: string
  short: string
  dir: string
  manifest: Record<string, unknown> & { exports?: Record<string, unknown>; bin?: unknown }
  tarball: string
}

interface Result {
  code: number | null
  output: string
}

/** Runs a command; never throws. The output is stdout and stderr interleaved. */
export function run(
  command: string,
  args: string[],
  options: { cwd: string; env?: Record<string, string>; timeoutMs?: number } = { cwd: ROOT },
): Promise<Result> {
  return new Promise((done) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: { ...process.env, ...options.env, CI: process.env.CI ?? 'true' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => (output += chunk))
    child.stderr.on('data', (chunk: Buffer) => (output += chunk))
    const timer = setTimeout(() => {
      output += `\n[pack-check: killed after ${options.timeoutMs} ms]`
      child.kill('SIGKILL')
    }, options.timeoutMs ?? 300_000)
    child.on('error', (error) => {
      clearTimeout(timer)
      done({ code: -1, output: `${output}\n${error.message}` })
    })
    child.on('close', (code) => {
      clearTimeout(timer)
      done({ code, output })
    })
  })
}

/** Runs `tasks` at most `limit` at a time. */
export async function pool<T>(limit: number, tasks: (() => Promise<T>)[]): Promise<T[]> {
  const results: T[] = []
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < tasks.length) {
      const i = next++
      try {
        results[i] = await (tasks[i] as () => Promise<T>)()
      } catch (error) {
        check(`a pack-check job threw`, {
          code: -1,
          output: String((error as Error).stack ?? error),
        })
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker))
  return results
}

const failures: string[] = []
function check(what: string, result: Result, ok = result.code === 0): void {
  const seconds = ((Date.now() - started) / 1000).toFixed(0)
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what} (${seconds} s)`)
  if (!ok) {
    failures.push(`${what}\n${result.output.trim().split('\n').slice(-40).join('\n')}`)
  }
}

async function main(): Promise<void> {
  const only = process.argv.slice(2)
  const work = mkdtempSync(join(tmpdir(), 'core-pack-check-'))
  const tgz = join(work, 'tarballs')
  console.log(`pack-check: working in ${work}`)

  const pkgs = await publishable(tgz)
  for (const pkg of pkgs) {
    if (!existsSync(join(pkg.dir, 'dist'))) {
      throw new Error(`${pkg.name} has no dist/: run \`pnpm build\` before the pack check`)
    }
  }
  const packed = await run(
    PNPM[0] as string,
    [...PNPM.slice(1), '-r', 'pack', '--pack-destination', tgz],
    {
      cwd: ROOT,
    },
  )
  check('pnpm -r pack', packed)
  if (packed.code !== 0) return finish(work)
  const selected = only.length === 0 ? pkgs : pkgs.filter((p) => only.includes(p.short))
  checked = selected.length

  // Lint the tarballs: publint and attw.
  await pool(
    JOBS,
    selected.flatMap((pkg) => [
      async () =>
        check(
          `${pkg.name}: attw --profile esm-only`,
          await run(bin('attw'), [pkg.tarball, '--profile', 'esm-only', '--format', 'ascii'], {
            cwd: work,
          }),
        ),
    ]),
  )

  // Consumers: one throwaway pnpm workspace, and one npm project per package.
  const overrides = Object.fromEntries(pkgs.map((p) => [p.name, `file:${p.tarball}`]))
  const consumers = selected.map((pkg) => consumer(pkg, overrides))
  if (only.length === 0 || only.includes('readme')) {
    consumers.push(consumer(rootReadme, overrides, '30 seconds'))
  }
  const installEnv = await betterSqlitePrebuild(work)
  const pnpmRoot = join(work, 'pnpm')
  await mkdir(pnpmRoot, { recursive: true })
  writeFileSync(
    join(pnpmRoot, 'package.json'),
    JSON.stringify({ name: 'pack-check', private: true }),
  )
  writeFileSync(
    join(pnpmRoot, 'pnpm-workspace.yaml'),
    [
      'packages: ["*"]',
      'onlyBuiltDependencies: [better-sqlite3]',
      'overrides:',
      ...Object.entries(overrides).map(([name, spec]) => `  "${name}": "${spec}"`),
      '',
    ].join('\n'),
  )
  for (const c of consumers) {
    for (const dir of [join(pnpmRoot, c.pkg.short), join(work, 'npm', c.pkg.short)]) {
      await mkdir(dir, { recursive: true })
      writeFileSync(join(dir, 'package.json'), `${JSON.stringify(c.manifest, null, 2)}\n`)
      for (const [file, text] of Object.entries(c.files)) writeFileSync(join(dir, file), text)
    }
  }
  const installs = await Promise.all([
    run(
      PNPM[0] as string,
      [...PNPM.slice(1), 'install', '--prefer-offline', '--no-frozen-lockfile'],
      {
        cwd: pnpmRoot,
        env: installEnv,
        timeoutMs: 600_000,
      },
    ).then((r) => check('pnpm install (every consumer)', r)),
    pool(
      JOBS,
      consumers.map(
        (c) => async () =>
          check(
            `${c.pkg.name}: npm install alone`,
            await run(
              'npm',
              ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'],
              { cwd: join(work, 'npm', c.pkg.short), env: installEnv, timeoutMs: 600_000 },
            ),
          ),
      ),
    ),
  ])
  void installs

  // publint on what pnpm installed (the tarball's files, as published).
  await pool(
    JOBS,
    selected.map((pkg) => async () => {
      const dir = realpathSync(join(pnpmRoot, pkg.short, 'node_modules', ...pkg.name.split('/')))
      check(
        `${pkg.name}: publint --strict`,
        await run(bin('publint'), [dir, '--strict', '--pack', 'false'], { cwd: dir }),
      )
    }),
  )

  // Type checks (pnpm consumer), then examples and bins (both consumers).
  const withDecls = consumers.filter((c) => (c.files['decls.ts'] ?? '') !== '')
  await pool(JOBS, [
    // The longest first: the third-party declarations, once for every consumer.
    ...thirdPartyJobs(
      withDecls.map((c) => join(pnpmRoot, c.pkg.short)),
      HERE,
      run,
      check,
    ),
    ...consumers.flatMap((c) =>
      typecheckJobs(
        c,
        join(pnpmRoot, c.pkg.short),
        join(work, 'npm', c.pkg.short),
        HERE,
        run,
        check,
      ),
    ),
  ])
  return finish(work)
}

/** The package.json and files of the consumer project of `pkg`. */
function consumer(
  pkg: Pkg,
  overrides: Record<string, string>,
  section?: string,
): {
  pkg: Pkg
  manifest: Record<string, unknown>
  files: Record<string, string>
  hasExample: boolean
  runExample: boolean
} {
  const readme = readFileSync(join(pkg.dir, 'README.md'), 'utf8')
  const { install, code, typecheckOnly } = readReadme(readme, section, section)
  const names = install.length === 0 ? [pkg.name] : install
  const dependencies = Object.fromEntries(names.map((name) => [name, overrides[name] ?? 'latest']))
  if (!(pkg.name in dependencies) && pkg.name in overrides) {
    dependencies[pkg.name] = overrides[pkg.name] as string
  }
  // The hub's consumer also installs @core/cli: both declare the `core` bin (see hub-start.ts).
  if (pkg.name === '@core/hub' && overrides['@core/cli'] !== undefined) {
    dependencies['@core/cli'] = overrides['@core/cli']
  }
  const subpaths = Object.keys(pkg.manifest.exports ?? { '.': '' }).filter(
    (key) => !key.endsWith('.json'),
  )
  const decls = subpaths
    .map((key, i) => {
      const spec = key === '.' ? pkg.name : `${pkg.name}/${key.slice(2)}`
      return `import type * as m${i} from '${spec}'\nexport type M${i} = typeof m${i}\n`
    })
    .join('')
  return {
    pkg,
    manifest: {
      name: `consumer-${pkg.short}`,
      private: true,
      type: 'module',
      dependencies,
      devDependencies: { '@types/node': '^20.19.0' },
      overrides,
    },
    files: { 'decls.ts': decls, ...(code === undefined ? {} : { 'example.ts': code }) },
    hasExample: code !== undefined,
    runExample: code !== undefined && !typecheckOnly,
  }
}

export type Consumer = ReturnType<typeof consumer>

/** Every non-private package under packages/ and apps/. */
async function publishable(tgz: string): Promise<Pkg[]> {
  const out: Pkg[] = []
  for (const group of ['packages', 'apps']) {
    for (const entry of await readdir(join(ROOT, group))) {
      const dir = join(ROOT, group, entry)
      const file = join(dir, 'package.json')
      if (!existsSync(file)) continue
      const manifest = JSON.parse(readFileSync(file, 'utf8')) as Pkg['manifest']
      if (manifest.private === true) continue
      const name = String(manifest.name)
      const tarball = join(
        tgz,
        `${name.replace('@', '').replace('/', '-')}-${String(manifest.version)}.tgz`,
      )
      out.push({ name, short: basename(dir), dir, manifest, tarball })
    }
  }
  return out
}

/** The root README's "30 seconds" example: a consumer of the packages its install line names. */
const rootReadme: Pkg = {
  name: 'README "30 seconds"',
  short: 'readme',
  dir: ROOT,
  manifest: { exports: {} },
  tarball: '',
}

/**
 * better-sqlite3 compiles for minutes where its prebuilt binary cannot be downloaded. When the
 * repository's own install has built the same version, hand that binary to prebuild-install as
 * a local prebuild (its documented `local-prebuilds` option), so every consumer install skips
 * the compile; otherwise the consumers download or compile it as any user would.
 */
async function betterSqlitePrebuild(work: string): Promise<Record<string, string>> {
  const link = join(ROOT, 'packages', 'storage-sqlite', 'node_modules', 'better-sqlite3')
  if (!existsSync(join(link, 'build', 'Release', 'better_sqlite3.node'))) return {}
  const dir = realpathSync(link)
  const { version } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
    version: string
  }
  const prebuilds = join(work, 'prebuilds')
  await mkdir(prebuilds, { recursive: true })
  const file = `better-sqlite3-v${version}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`
  const tar = await run(
    'tar',
    ['czf', join(prebuilds, file), '-C', dir, 'build/Release/better_sqlite3.node'],
    {
      cwd: dir,
    },
  )
  check(`better-sqlite3 ${version}: local prebuild from the repository's build`, tar)
  return { npm_config_better_sqlite3_local_prebuilds: prebuilds }
}

/** A bin of this tool's own dependencies. */
function bin(name: string): string {
  return join(HERE, 'node_modules', '.bin', name)
}

let checked = 0

function finish(work: string): void {
  if (process.env.PACK_CHECK_KEEP !== '1') rmSync(work, { recursive: true, force: true })
  const seconds = ((Date.now() - started) / 1000).toFixed(0)
  for (const failure of failures) console.log(`\n--- ${failure}`)
  if (failures.length > 0) process.exitCode = 1
  console.log(
    `\npack-check: ${checked} packages checked, ${failures.length} failure(s), ${seconds} s`,
  )
}

await main()
