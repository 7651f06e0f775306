import { CoreError } from '@core/contracts'

/** Keys refused in `--param` paths: they would reach an object's prototype. */
const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype'])

/**
 * Parses a JSON command-line argument.
 *
 * @param text - The argument as typed.
 * @param argument - How to name it in the error, e.g. `<json>` or `<value>`.
 * @returns The parsed value.
 * @throws {@link @core/contracts!CoreError} `E_VALIDATION` naming the argument, what was received and the
 *   parser's complaint.
 * @internal
 */
export function parseJsonArgument(text: string, argument: string): unknown {
  try {
    return JSON.parse(text)
  } catch (error) {
    const shown = text.length > 80 ? `${text.slice(0, 80)}…` : text
    throw new CoreError(
      'E_VALIDATION',
      `${argument} is not valid JSON (${(error as Error).message}): got ${shown === '' ? 'nothing' : `'${shown}'`}; quote JSON for the shell, e.g. '{"on":true}', and strings in double quotes inside single ones, e.g. '"on"'`,
      { cause: error, details: { argument } },
    )
  }
}

/**
 * Parses one `--param key=value`: the key is split on dots into a path, the value is parsed as
 * JSON when it parses (`true`, `12`, `null`, `"12"`, `[1,2]`) and kept as a string otherwise.
 *
 * @throws {@link @core/contracts!CoreError} `E_VALIDATION` when there is no `=`, a path segment is empty, or a
 *   segment is `__proto__`, `constructor` or `prototype`.
 * @internal
 */
export function parseParam(text: string): { path: string[]; value: unknown } {
  const eq = text.indexOf('=')
  if (eq < 0) {
    throw new CoreError(
      'E_VALIDATION',
      `--param "${text}" has no "=": write --param key=value (e.g. --param on=true or --param color.r=255)`,
      { details: { argument: '--param', received: text } },
    )
  }
  const key = text.slice(0, eq)
  const raw = text.slice(eq + 1)
  const path = key.split('.')
  if (path.some((segment) => segment === '')) {
    throw new CoreError(
      'E_VALIDATION',
      `--param "${text}" has an empty key or key segment: write dotted keys like color.r=255`,
      { details: { argument: '--param', received: text } },
    )
  }
  const bad = path.find((segment) => FORBIDDEN_KEYS.has(segment))
  if (bad !== undefined) {
    throw new CoreError('E_VALIDATION', `--param "${key}" uses the reserved key "${bad}"`, {
      details: { argument: '--param', received: text },
    })
  }
  let value: unknown = raw
  try {
    value = JSON.parse(raw)
  } catch {
    // Not JSON: the text itself.
  }
  return { path, value }
}

/**
 * Builds the params of a service call from an optional JSON argument and `--param` pairs,
 * applied in order on top of it: a later pair for the same key wins, dotted keys nest
 * (`color.r=255` → `{ color: { r: 255 } }`) and merge into objects already there.
 *
 * @param json - The JSON argument as typed, if any (`undefined`: start from `{}`).
 * @param pairs - The `--param` values as typed.
 * @returns The params; with no JSON and no pairs, `{}`.
 * @throws {@link @core/contracts!CoreError} `E_VALIDATION` for invalid JSON (naming `<json>`), a malformed
 *   pair, pairs on top of a JSON value that is not an object, or a pair that nests under a key
 *   that already holds a value that is not an object.
 * @internal
 */
export function buildParams(json: unknown, pairs: readonly string[]): unknown {
  const base = json === undefined ? {} : json
  if (pairs.length === 0) return base
  if (!isPlainObject(base)) {
    throw new CoreError(
      'E_VALIDATION',
      '--param needs the JSON argument to be an object (or absent): it sets keys inside it',
      { details: { argument: '<json>' } },
    )
  }
  const root = base
  for (const pair of pairs) {
    const { path, value } = parseParam(pair)
    let node: Record<string, unknown> = root
    for (let i = 0; i < path.length - 1; i++) {
      const segment = path[i] as string
      const next = Object.hasOwn(node, segment) ? node[segment] : undefined
      if (next === undefined) {
        const child: Record<string, unknown> = {}
        define(node, segment, child)
        node = child
      } else if (isPlainObject(next)) {
        node = next
      } else {
        const at = path.slice(0, i + 1).join('.')
        throw new CoreError(
          'E_VALIDATION',
          `--param "${pair}" nests under "${at}", which already holds ${JSON.stringify(next)}`,
          { details: { argument: '--param', received: pair } },
        )
      }
    }
    define(node, path[path.length - 1] as string, value)
  }
  return root
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** Sets an own property (never a prototype setter). */
function define(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  })
}
