import { readFile, stat } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import {
  CoreError,
  type PluginManifest,
  PluginManifestSchema,
  type ValidationIssue,
  validationError,
} from '@core/contracts'
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js'
import addFormatsModule from 'ajv-formats'
import semver from 'semver'

/**
 * The version of the plugin API this kernel offers; each manifest's `coreApi` range must
 * include it. Bumped with semver: a new `ctx` capability is a minor, a removed or changed one
 * a major.
 * @public
 */
export const CORE_API_VERSION = '1.0.0'

/**
 * Names a plugin may not take: their namespaces belong to the kernel. `core-*` is kept for the
 * kernel's adapters too (e.g. `core-auth`, where @core/http keeps token hashes).
 */
const RESERVED_NAMES: ReadonlySet<string> = new Set(['core', 'state'])
const isReservedName = (name: string): boolean =>
  RESERVED_NAMES.has(name) || name.startsWith('core-')

/** A plugin package read from disk, its manifest valid. @internal */
export interface PluginPackage {
  name: string
  version: string
  /** Absolute folder of the package. */
  dir: string
  /** Absolute path of its package.json. */
  packageJsonPath: string
  manifest: PluginManifest
  /** Absolute path of the entry module. */
  entryPath: string
}

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020
const manifestAjv = new Ajv2020({ allErrors: true, strict: false })
addFormats(manifestAjv)
let validateManifest: ValidateFunction | undefined

/**
 * Compiles plugin config schemas (JSON Schema 2020-12, formats, defaults applied), once per
 * distinct schema text, so that reloading a plugin 1,000 times compiles its schema once.
 * @internal
 */
export class ConfigSchemas {
  // A config is validated once per setup: compile fast (no code optimisation), run a bit slower.
  private readonly ajv = new Ajv2020({
    allErrors: true,
    strict: false,
    useDefaults: true,
    code: { optimize: false },
  })
  private readonly compiled = new Map<string, ValidateFunction>()

  constructor() {
    addFormats(this.ajv)
  }

  /** @throws whatever Ajv throws for a schema it cannot compile. */
  compile(schema: object): ValidateFunction {
    const text = JSON.stringify(schema)
    let fn = this.compiled.get(text)
    if (fn === undefined) {
      const id = (schema as { $id?: unknown }).$id
      if (typeof id === 'string') this.ajv.removeSchema(id)
      fn = this.ajv.compile(structuredClone(schema))
      this.compiled.set(text, fn)
    }
    return fn
  }
}

/**
 * Reads `<dir>/package.json` (or the package.json path given) and validates its `corePlugin`
 * manifest.
 * @returns The package, or `undefined` when `optional` and the package has no `corePlugin`.
 * @throws {@link @core/contracts!CoreError} `E_NOT_FOUND` when there is no package.json.
 * @throws {@link @core/contracts!CoreError} `E_PLUGIN_MANIFEST` when package.json is malformed, has no
 *   `corePlugin` (unless `optional`), the manifest is invalid (every failing field named), or
 *   the entry file is missing.
 * @internal
 */
export async function readPluginPackage(
  location: string,
  configSchemas: ConfigSchemas,
  optional = false,
): Promise<PluginPackage | undefined> {
  const packageJsonPath = location.endsWith('package.json')
    ? resolve(location)
    : join(resolve(location), 'package.json')
  const dir = dirname(packageJsonPath)
  let text: string
  try {
    text = await readFile(packageJsonPath, 'utf8')
  } catch (cause) {
    throw new CoreError(
      'E_NOT_FOUND',
      `No plugin package at ${dir}: cannot read ${packageJsonPath}`,
      {
        cause,
        details: { path: packageJsonPath },
      },
    )
  }
  let pkg: unknown
  try {
    pkg = JSON.parse(text)
  } catch (cause) {
    throw new CoreError(
      'E_PLUGIN_MANIFEST',
      `Malformed package.json at ${packageJsonPath}: ${(cause as Error).message}; fix the JSON syntax`,
      { cause, details: { path: packageJsonPath } },
    )
  }
  if (typeof pkg !== 'object' || pkg === null || Array.isArray(pkg)) {
    throw new CoreError(
      'E_PLUGIN_MANIFEST',
      `Malformed package.json at ${packageJsonPath}: not a JSON object`,
      {
        details: { path: packageJsonPath },
      },
    )
  }
  const record = pkg as Record<string, unknown>
  if (record.corePlugin === undefined) {
    if (optional) return undefined
    throw new CoreError(
      'E_PLUGIN_MANIFEST',
      `${packageJsonPath} has no "corePlugin" field, so it is not a Core Runtime plugin; add a manifest { "name", "entry", "coreApi" }`,
      {
        details: {
          path: packageJsonPath,
          errors: [{ path: '/corePlugin', keyword: 'required', message: 'is required' }],
        },
      },
    )
  }
  const issues = checkManifest(record, configSchemas)
  if (issues.length > 0) {
    const name = (record.corePlugin as { name?: unknown } | null)?.name
    throw manifestError(packageJsonPath, issues, typeof name === 'string' ? name : undefined)
  }
  const manifest = record.corePlugin as PluginManifest
  const entryPath = resolve(dir, manifest.entry)
  const entryStat = await stat(entryPath).catch(() => undefined)
  if (entryStat === undefined || !entryStat.isFile()) {
    throw new CoreError(
      'E_PLUGIN_MANIFEST',
      `Entry file of plugin "${manifest.name}" is missing: ${entryPath} (corePlugin.entry "${manifest.entry}" in ${packageJsonPath}); build the plugin or fix "entry"`,
      { details: { path: packageJsonPath, plugin: manifest.name, entry: entryPath } },
    )
  }
  return {
    name: manifest.name,
    version: record.version as string,
    dir,
    packageJsonPath,
    manifest,
    entryPath,
  }
}

/**
 * The `E_PLUGIN_MANIFEST` error for a manifest's problems: the message names `where` and every
 * failing field (JSON Pointer and reason); `details.errors` lists them.
 * @internal
 */
export function manifestError(
  where: string,
  issues: readonly ValidationIssue[],
  plugin: string | undefined,
): CoreError {
  const { details } = validationError('plugin manifest', issues)
  const errors = (details?.errors ?? []) as Array<{ path: string; message: string }>
  const byPath = new Map<string, string>()
  for (const e of errors) if (!byPath.has(e.path)) byPath.set(e.path, e.message)
  const fields = [...byPath].map(([path, message]) => `${path} ${message}`).join('; ')
  return new CoreError('E_PLUGIN_MANIFEST', `Invalid plugin manifest in ${where}: ${fields}`, {
    details: { path: where, plugin, errors },
  })
}

/**
 * Every problem of a package.json's plugin manifest, as validation issues whose paths are
 * JSON Pointers from the package.json root (`/corePlugin/name`, `/version`…). Empty = valid.
 * @internal
 */
export function checkManifest(
  pkg: Record<string, unknown>,
  configSchemas: ConfigSchemas,
): ValidationIssue[] {
  validateManifest ??= manifestAjv.compile(PluginManifestSchema)
  const issues: ValidationIssue[] = []
  const version = pkg.version
  if (typeof version !== 'string' || semver.valid(version) === null) {
    issues.push({
      instancePath: '/version',
      keyword: 'semver',
      message: `must be a semver version (the plugin's version), got ${JSON.stringify(version)}`,
    })
  }
  const manifest = pkg.corePlugin
  if (!validateManifest(manifest)) {
    for (const e of validateManifest.errors ?? []) {
      const extra = e.keyword === 'additionalProperties' ? e.params.additionalProperty : undefined
      issues.push(
        typeof extra === 'string'
          ? {
              instancePath: `/corePlugin${e.instancePath}/${extra}`,
              keyword: e.keyword,
              message: 'is not a known field',
            }
          : { ...e, instancePath: `/corePlugin${e.instancePath}` },
      )
    }
    return issues
  }
  const m = manifest as PluginManifest
  if (isReservedName(m.name)) {
    issues.push({
      instancePath: '/corePlugin/name',
      keyword: 'reserved',
      message: `"${m.name}" is reserved for the kernel's own namespace; choose another name`,
    })
  }
  if (semver.validRange(m.coreApi) === null) {
    issues.push({
      instancePath: '/corePlugin/coreApi',
      keyword: 'semver',
      message: 'must be a semver range',
    })
  }
  for (const field of ['requires', 'optionalRequires'] as const) {
    for (const [dep, range] of Object.entries(m[field] ?? {})) {
      if (semver.validRange(range) === null) {
        issues.push({
          instancePath: `/corePlugin/${field}/${dep}`,
          keyword: 'semver',
          message: 'must be a semver range',
        })
      }
      if (dep === m.name) {
        issues.push({
          instancePath: `/corePlugin/${field}/${dep}`,
          keyword: 'self',
          message: 'a plugin cannot depend on itself',
        })
      }
    }
  }
  if (m.config !== undefined) {
    try {
      configSchemas.compile(m.config)
    } catch (cause) {
      issues.push({
        instancePath: '/corePlugin/config',
        keyword: 'schema',
        message: `must be a valid JSON Schema 2020-12: ${(cause as Error).message}`,
      })
    }
  }
  return issues
}
