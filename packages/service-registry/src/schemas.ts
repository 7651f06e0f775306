import { CoreError, cloneJson, type JsonSchema } from '@core/contracts'
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js'
import addFormatsImport from 'ajv-formats'

// ajv-formats is CommonJS: its default export is the plugin function itself under NodeNext.
const addFormats = addFormatsImport as unknown as (ajv: Ajv2020) => Ajv2020

/** A compiled schema and the JSON copy it was compiled from. @internal */
export interface CompiledSchema {
  /** A JSON copy of the schema as registered, shown in descriptors. */
  schema: JsonSchema
  validate: ValidateFunction
  /** The cache key (the schema's JSON text). */
  key: string
}

interface CacheEntry {
  compiled: CompiledSchema
  refs: number
}

/**
 * Compiles service schemas with one Ajv (JSON Schema 2020-12, `allErrors`, ajv-formats) shared by
 * every registry of the process, and shares the compiled validator between schemas with the same
 * JSON text (services commonly reuse `{}` or one TypeBox schema), counting references so that
 * the last `release` drops it from Ajv.
 *
 * - Each schema is copied as JSON first, so a caller changing its object later changes nothing.
 * - String lengths count Unicode code points, as JSON Schema says (Ajv's `unicode: true`).
 * - Unknown keywords are refused (`strictSchema`), which catches typos such as `minimun`; the
 *   other strict checks (types, tuples, required) are off, so hand-written schemas without
 *   `type` next to `properties` are accepted, and Ajv never logs.
 * - Schemas must be self-contained: `$ref` may point into the schema (`$defs`), not to others;
 *   `$id`s are not registered in Ajv (`addUsedSchema: false`), so two services may use the same.
 * @internal
 */
export class SchemaCompiler {
  private static shared: SchemaCompiler | undefined
  private readonly ajv: Ajv2020
  private readonly cache = new Map<string, CacheEntry>()

  private constructor() {
    this.ajv = new Ajv2020({
      allErrors: true,
      addUsedSchema: false,
      strictSchema: true,
      strictTypes: false,
      strictTuples: false,
      strictRequired: false,
      logger: false,
    })
    addFormats(this.ajv)
  }

  /** The process-wide compiler, created on first use. */
  static get(): SchemaCompiler {
    SchemaCompiler.shared ??= new SchemaCompiler()
    return SchemaCompiler.shared
  }

  /**
   * @param subject - e.g. `params schema of service "lights.set@1.0.0"`.
   * @throws {@link @core/contracts!CoreError} `E_VALIDATION` when `schema` is not a JSON object Ajv can compile.
   */
  compile(schema: unknown, subject: string, details: Record<string, unknown>): CompiledSchema {
    if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) {
      throw new CoreError(
        'E_VALIDATION',
        `Invalid ${subject}: expected a JSON Schema object (a TypeBox schema, or {} to accept anything), got ${describe(schema)}`,
        { details },
      )
    }
    const copy = cloneJson(schema, subject) as JsonSchema
    const key = JSON.stringify(copy)
    const hit = this.cache.get(key)
    if (hit !== undefined) {
      hit.refs++
      return hit.compiled
    }
    let validate: ValidateFunction
    try {
      validate = this.ajv.compile(copy)
    } catch (error) {
      throw new CoreError(
        'E_VALIDATION',
        `Invalid ${subject}: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error, details },
      )
    }
    const compiled: CompiledSchema = { schema: copy, validate, key }
    this.cache.set(key, { compiled, refs: 1 })
    return compiled
  }

  /** Drops one reference; the last one removes the validator from Ajv. */
  release(compiled: CompiledSchema | undefined): void {
    if (compiled === undefined) return
    const entry = this.cache.get(compiled.key)
    if (entry === undefined || entry.compiled !== compiled) return
    if (--entry.refs > 0) return
    this.cache.delete(compiled.key)
    this.ajv.removeSchema(compiled.schema)
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  return typeof value
}
