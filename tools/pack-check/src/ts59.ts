/**
 * The TypeScript 5.9 checks of the pack check, in one process per call (the compiler is loaded
 * once and parsed files are shared between programs of the same options):
 *
 * `tsx ts59.ts own <tsconfig>…`: for each tsconfig, builds its program and reports the
 * semantic diagnostics of the files that are ours (the consumer's own `.ts` files and every
 * `@core/*` declaration file it reaches), plus every option, global and syntactic diagnostic.
 * Checking them pulls in the third-party types they use, but does not check every third-party
 * declaration file again (typebox, `@types/node`: most of the time of a full check). A config
 * that emits (no `noEmit`) then emits its root files.
 *
 * `tsx ts59.ts all <tsconfig>…`: one program of the root files of every config (their
 * options must be equal), with every diagnostic of every file: the third-party declarations
 * under `skipLibCheck: false`, once per option set instead of once per package.
 *
 * Prints one line per config, `ok <config>` or `FAIL <config>` followed by the diagnostics; exit
 * code 1 when any failed.
 */
import { dirname } from 'node:path'
import ts from 'typescript'

const cache = new Map<string, ts.SourceFile | undefined>()

function host(options: ts.CompilerOptions): ts.CompilerHost {
  const base = ts.createCompilerHost(options)
  return {
    ...base,
    getSourceFile(fileName, languageVersionOrOptions, onError, shouldCreate) {
      const key = `${fileName}\0${JSON.stringify(languageVersionOrOptions)}`
      if (!cache.has(key)) {
        cache.set(
          key,
          base.getSourceFile(fileName, languageVersionOrOptions, onError, shouldCreate),
        )
      }
      return cache.get(key)
    },
  }
}

function parse(config: string): ts.ParsedCommandLine {
  const parsed = ts.getParsedCommandLineOfConfigFile(
    config,
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'))
      },
    },
  )
  if (parsed === undefined) throw new Error(`cannot read ${config}`)
  return parsed
}

/** A file of ours: not under node_modules, or an `@core/*` package's. */
function ours(fileName: string): boolean {
  return !fileName.includes('/node_modules/') || /\/node_modules\/@core\/[^/]+\//.test(fileName)
}

function format(diagnostics: readonly ts.Diagnostic[], cwd: string): string {
  return ts.formatDiagnostics(diagnostics, {
    getCanonicalFileName: (f) => f,
    getCurrentDirectory: () => cwd,
    getNewLine: () => '\n',
  })
}

function report(config: string, diagnostics: readonly ts.Diagnostic[]): boolean {
  const errors = diagnostics.filter((d) => d.category === ts.DiagnosticCategory.Error)
  console.log(`${errors.length === 0 ? 'ok' : 'FAIL'} ${config}`)
  if (errors.length > 0) console.log(format(errors, dirname(config)))
  return errors.length === 0
}

function own(config: string): boolean {
  const { fileNames, options, errors } = parse(config)
  const program = ts.createProgram({ rootNames: fileNames, options, host: host(options) })
  const diagnostics = [
    ...errors,
    ...program.getOptionsDiagnostics(),
    ...program.getGlobalDiagnostics(),
    ...program.getSyntacticDiagnostics(),
    ...program
      .getSourceFiles()
      .filter((file) => ours(file.fileName))
      .flatMap((file) => program.getSemanticDiagnostics(file)),
  ]
  if (options.noEmit !== true) {
    for (const root of fileNames) {
      const emitted = program.emit(program.getSourceFile(root))
      diagnostics.push(...emitted.diagnostics)
    }
  }
  return report(config, diagnostics)
}

function all(configs: string[]): boolean {
  const parsed = configs.map(parse)
  const options = parsed[0]?.options ?? {}
  const program = ts.createProgram({
    rootNames: parsed.flatMap((p) => p.fileNames),
    options,
    host: host(options),
  })
  return report(configs.join(' + '), ts.getPreEmitDiagnostics(program))
}

const [mode, ...configs] = process.argv.slice(2)
let passed = true
if (mode === 'own') {
  for (const config of configs) passed = own(config) && passed
} else if (mode === 'all') {
  passed = all(configs)
} else {
  console.error('usage: tsx ts59.ts own|all <tsconfig>…')
  passed = false
}
process.exitCode = passed ? 0 : 1
