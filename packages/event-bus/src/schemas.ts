import {
  assertTopic,
  CoreError,
  type JsonSchema,
  type Logger,
  validationError,
} from '@core/contracts'
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js'
import ajvFormats from 'ajv-formats'

/**
 * The payload schemas of one bus: one Ajv (JSON Schema 2020-12, `allErrors`, ajv-formats)
 * created on the first `define`, one compiled validator per event type.
 * @internal
 */
export class SchemaRegistry {
  /** Event type → compiled validator; read by `publish` on its hot path. */
  readonly validators: Map<string, ValidateFunction> = new Map()
  private ajv: Ajv2020 | undefined
  private readonly logger: Logger

  constructor(logger: Logger) {
    this.logger = logger
  }

  /**
   * Compiles `schema` for `type`; returns the undo.
   * @throws {@link @core/contracts!CoreError} `E_VALIDATION` for a malformed type or schema, `E_CONFLICT` if
   *   `type` already has a schema.
   */
  define(type: string, schema: JsonSchema): () => void {
    assertTopic(type, 'event type')
    if (this.validators.has(type)) {
      throw new CoreError(
        'E_CONFLICT',
        `Event type "${type}" already has a schema; call the undo returned by the first defineEvent("${type}", …) before defining another`,
        { details: { type } },
      )
    }
    if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) {
      throw new CoreError(
        'E_VALIDATION',
        `Invalid schema for event type "${type}": use a JSON Schema object`,
        {
          details: { type },
        },
      )
    }
    const ajv = this.ajv ?? this.createAjv()
    let validate: ValidateFunction
    try {
      validate = ajv.compile(schema)
    } catch (error) {
      throw new CoreError(
        'E_VALIDATION',
        `Invalid schema for event type "${type}": ${error instanceof Error ? error.message : String(error)}`,
        { cause: error, details: { type } },
      )
    }
    this.validators.set(type, validate)
    return () => {
      if (this.validators.get(type) !== validate) return
      this.validators.delete(type)
      ajv.removeSchema(schema)
    }
  }

  /**
   * Checks `data` against the schema of `type`, if any.
   * @throws {@link @core/contracts!CoreError} `E_VALIDATION` with Ajv's paths in `details.errors`.
   */
  check(type: string, data: unknown): void {
    const validate = this.validators.get(type)
    if (validate !== undefined && !validate(data)) {
      throw validationError(`data of event "${type}"`, validate.errors, { type })
    }
  }

  private createAjv(): Ajv2020 {
    const log = this.logger
    const ajv = new Ajv2020({
      allErrors: true,
      logger: {
        log: (...args: unknown[]) => log.debug(args.map(String).join(' ')),
        warn: (...args: unknown[]) => log.warn(args.map(String).join(' ')),
        error: (...args: unknown[]) => log.error(args.map(String).join(' ')),
      },
    })
    // ajv-formats is CommonJS: its default import is module.exports, whose .default is the plugin.
    ajvFormats.default(ajv)
    this.ajv = ajv
    return ajv
  }
}
