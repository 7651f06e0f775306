import {
  CoreError,
  NODE_PASSPORT_API_VERSION_PATTERN,
  type NodePassport,
  NodePassportSchema,
  validationError,
} from '@core/contracts'
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js'
import addFormatsModule from 'ajv-formats'
import { labelKeyProblem } from './label-selector.js'

/**
 * Reads a passport of another `apiVersion` (say a future registry's `v2`, or an old one) into
 * the `core.runtime/v1` form this release keeps. Keyed by the `apiVersion` it reads.
 * @public
 */
export type NodePassportConverters = Readonly<Record<string, (passport: unknown) => unknown>>

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020
let validate: ValidateFunction | undefined
const API_VERSION_RE = new RegExp(NODE_PASSPORT_API_VERSION_PATTERN)

/**
 * Checks a passport against {@link NodePassportSchema} and returns it unchanged (extra fields
 * of a `v1.x` writer are kept). A passport of another `apiVersion` is first given to the
 * converter registered for that version, if any; without one it is refused.
 *
 * @param passport - The candidate passport.
 * @param converters - `apiVersion` → converter into `core.runtime/v1`. @defaultValue none
 * @returns The passport, typed.
 * @throws {@link @core/contracts!CoreError} `E_VALIDATION` naming each bad field (`details.errors[].path`,
 *   JSON Pointers such as `/metadata/labels/room`), or `/apiVersion` with the supported versions.
 * @see Kubernetes API conventions, API versioning; JSON Schema 2020-12
 * @example
 * ```ts
 * const passport = validatePassport(JSON.parse(text))
 * ```
 * @public
 */
export function validatePassport(
  passport: unknown,
  converters: NodePassportConverters = {},
): NodePassport {
  let candidate = passport
  const apiVersion = (candidate as { apiVersion?: unknown } | null)?.apiVersion
  if (typeof apiVersion === 'string' && !API_VERSION_RE.test(apiVersion)) {
    const convert = converters[apiVersion]
    if (convert === undefined) {
      throw new CoreError(
        'E_VALIDATION',
        `Invalid passport: /apiVersion "${apiVersion}" is not supported; this registry reads core.runtime/v1 and core.runtime/v1.<n>${
          Object.keys(converters).length > 0
            ? ` (and converts ${Object.keys(converters).join(', ')})`
            : ''
        }`,
        {
          details: {
            errors: [{ path: '/apiVersion', keyword: 'pattern', message: 'is not supported' }],
            supported: ['core.runtime/v1', 'core.runtime/v1.<n>', ...Object.keys(converters)],
          },
        },
      )
    }
    candidate = convert(candidate)
  }
  if (validate === undefined) {
    const ajv = new Ajv2020({ allErrors: true, strict: false })
    addFormats(ajv)
    validate = ajv.compile(NodePassportSchema)
  }
  if (!validate(candidate)) throw validationError('passport', validate.errors)
  const typed = candidate as NodePassport
  const errors: { path: string; keyword: string; message: string }[] = []
  for (const [field, record] of [
    ['/metadata/labels', typed.metadata.labels],
    ['/spec/resources', typed.spec.resources],
  ] as const) {
    for (const key of Object.keys(record ?? {})) {
      const problem = labelKeyProblem(key)
      if (problem)
        errors.push({
          path: `${field}/${key.replaceAll('~', '~0').replaceAll('/', '~1')}`,
          keyword: 'labelKey',
          message: `key ${problem}`,
        })
    }
  }
  if (errors.length > 0)
    throw validationError(
      'passport',
      errors.map((e) => ({ instancePath: e.path, keyword: e.keyword, message: e.message })),
    )
  return typed
}

/**
 * The `Ready` condition's status of a passport, `undefined` when it reports none.
 * @internal
 */
export function readyStatus(passport: NodePassport): string | undefined {
  return passport.status?.conditions?.find((c) => c.type === 'Ready')?.status
}
