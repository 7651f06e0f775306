import { CoreError, LABEL_KEY_PATTERN, LABEL_VALUE_PATTERN } from '@core/contracts'
import { compareLabelNumbers, labelNumberComparer } from './quantity.js'

/**
 * A requirement's operator: `In`, `NotIn`, `Exists`, `DoesNotExist` (label selectors) and
 * `Gt`, `Lt` (node affinity).
 * @see kubernetes/apimachinery pkg/apis/meta/v1 `LabelSelectorOperator`; k8s.io/api core/v1 `NodeSelectorOperator`
 * @public
 */
export type LabelSelectorOperator = 'In' | 'NotIn' | 'Exists' | 'DoesNotExist' | 'Gt' | 'Lt'

/**
 * One requirement of a selector: `key`, `operator` and `values` (`In`/`NotIn`: one or more;
 * `Exists`/`DoesNotExist`: none; `Gt`/`Lt`: exactly one integer or quantity).
 * @see kubernetes/apimachinery pkg/apis/meta/v1 `LabelSelectorRequirement`
 * @public
 */
export interface LabelSelectorRequirement {
  key: string
  operator: LabelSelectorOperator
  values?: string[]
}

/**
 * A Kubernetes label selector: every `matchLabels` pair and every `matchExpressions`
 * requirement must hold (AND). An empty selector matches every set of labels.
 * @see kubernetes/apimachinery pkg/apis/meta/v1 `LabelSelector`
 * @public
 */
export interface LabelSelector {
  matchLabels?: Record<string, string>
  matchExpressions?: LabelSelectorRequirement[]
}

const KEY_RE = new RegExp(LABEL_KEY_PATTERN)
const VALUE_RE = new RegExp(LABEL_VALUE_PATTERN)
const OPERATORS: ReadonlySet<string> = new Set([
  'In',
  'NotIn',
  'Exists',
  'DoesNotExist',
  'Gt',
  'Lt',
])

/** One problem found in a selector, with its JSON Pointer. @internal */
interface SelectorIssue {
  path: string
  keyword: string
  message: string
}

/**
 * Why `key` is not a Kubernetes label key, or `undefined` when it is one: an optional DNS
 * subdomain prefix (≤ 253 characters) and `/`, then a name of 1-63 characters.
 * @param key - The label key.
 * @returns The reason, for a message, or `undefined`.
 * @see kubernetes/apimachinery pkg/util/validation `IsQualifiedName`
 * @example
 * ```ts
 * labelKeyProblem('example.com/zone') // undefined
 * labelKeyProblem('-zone') // 'must be an optional DNS-subdomain prefix and "/", then …'
 * ```
 * @public
 */
export function labelKeyProblem(key: string): string | undefined {
  const slash = key.indexOf('/')
  if (!KEY_RE.test(key) || (slash > 0 && slash > 253)) {
    return 'must be an optional DNS-subdomain prefix (≤ 253 characters) and "/", then a name of 1-63 characters [A-Za-z0-9._-] starting and ending alphanumeric'
  }
  return undefined
}

/**
 * Why `value` is not a Kubernetes label value, or `undefined` when it is one: empty, or 1-63
 * characters `[A-Za-z0-9._-]` starting and ending alphanumeric.
 * @param value - The label value.
 * @returns The reason, for a message, or `undefined`.
 * @see kubernetes/apimachinery pkg/util/validation `IsValidLabelValue`
 * @example
 * ```ts
 * labelValueProblem('kitchen') // undefined
 * ```
 * @public
 */
export function labelValueProblem(value: string): string | undefined {
  if (typeof value !== 'string' || value.length > 63 || !VALUE_RE.test(value)) {
    return 'must be empty or 1-63 characters [A-Za-z0-9._-] starting and ending alphanumeric'
  }
  return undefined
}

/**
 * Checks a structured selector and throws on the first refusal batch: bad label keys or
 * values, unknown operators, `In`/`NotIn` without values, `Exists`/`DoesNotExist` with
 * values, `Gt`/`Lt` without exactly one integer or quantity value. An invalid selector is
 * never matched silently.
 *
 * @param selector - The selector to check.
 * @param path - JSON Pointer of the selector in its document, for messages. @defaultValue `''`
 * @returns Nothing; returns normally when the selector is valid.
 * @throws {@link @core/contracts!CoreError} `E_VALIDATION` with `details.errors` (`{ path, keyword, message }`)
 *   naming each bad field, e.g. `/matchExpressions/0/values`.
 * @see kubernetes/apimachinery pkg/apis/meta/v1 `LabelSelectorAsSelector`; pkg/labels `NewRequirement`
 * @example
 * ```ts
 * validateLabelSelector({ matchExpressions: [{ key: 'tier', operator: 'In', values: [] }] })
 * // throws E_VALIDATION: /matchExpressions/0/values must hold at least one value for In
 * ```
 * @public
 */
export function validateLabelSelector(selector: LabelSelector, path = ''): void {
  const issues: SelectorIssue[] = []
  if (selector === null || typeof selector !== 'object' || Array.isArray(selector)) {
    issues.push({ path: path || '/', keyword: 'type', message: 'must be an object' })
  } else {
    collectIssues(selector, path, issues)
  }
  if (issues.length === 0) return
  const summary = issues
    .slice(0, 5)
    .map((i) => `${i.path} ${i.message}`)
    .join('; ')
  throw new CoreError('E_VALIDATION', `Invalid label selector: ${summary}`, {
    details: { errors: issues },
  })
}

/**
 * Whether `labels` satisfy `selector`, with Kubernetes' semantics: `matchLabels` pairs must be
 * equal; `In` needs the label with one of the values; `NotIn` matches a missing label or
 * another value; `Exists`/`DoesNotExist` test presence; `Gt`/`Lt` need the label, compare
 * base-10 integers numerically (node affinity) or, when both sides are Kubernetes quantities
 * (`4Gi`, `500m`), as quantities; a label value that is neither simply does not match.
 * An empty selector matches everything.
 *
 * The selector is not validated here (hot path): validate it once with
 * {@link validateLabelSelector} (the registry does) before matching many label sets.
 *
 * @param selector - A valid selector.
 * @param labels - The labels of one object (a passport's `metadata.labels`).
 * @returns `true` when every requirement holds.
 * @see kubernetes/apimachinery pkg/labels `Requirement.Matches`; k8s.io/component-helpers nodeaffinity
 * @example
 * ```ts
 * matchLabelSelector({ matchLabels: { room: 'kitchen' } }, { room: 'kitchen', floor: '1' }) // true
 * matchLabelSelector({ matchExpressions: [{ key: 'memory', operator: 'Gt', values: ['4Gi'] }] },
 *   { memory: '8Gi' }) // true
 * ```
 * @public
 */
export function matchLabelSelector(
  selector: LabelSelector,
  labels: Readonly<Record<string, string>> | undefined,
): boolean {
  // A present label is an own string value: nothing on Object.prototype is a string.
  const own = (labels ?? EMPTY) as Record<string, unknown>
  const pairs = selector.matchLabels
  if (pairs !== undefined) {
    for (const key in pairs) if (own[key] !== pairs[key]) return false
  }
  const requirements = selector.matchExpressions
  if (requirements !== undefined) {
    for (const requirement of requirements) {
      if (!matchRequirement(requirement, own)) return false
    }
  }
  return true
}

function matchRequirement(
  requirement: LabelSelectorRequirement,
  labels: Record<string, unknown>,
): boolean {
  const value = labels[requirement.key]
  const present = typeof value === 'string'
  switch (requirement.operator) {
    case 'In':
      return present && (requirement.values ?? []).includes(value)
    case 'NotIn':
      return !present || !(requirement.values ?? []).includes(value)
    case 'Exists':
      return present
    case 'DoesNotExist':
      return !present
    case 'Gt':
    case 'Lt': {
      const bound = requirement.values?.[0]
      if (!present || bound === undefined) return false
      const order = compareLabelNumbers(value, bound)
      if (order === undefined) return false
      return requirement.operator === 'Gt' ? order > 0 : order < 0
    }
    default:
      return false
  }
}

/**
 * Compiles a valid selector into a matcher with the same semantics as
 * {@link matchLabelSelector}: `In`/`NotIn` values in a Set, `Gt`/`Lt` bounds parsed once.
 * Use it to match one selector against many label sets (the registry's `findNodes` does).
 *
 * @param selector - A valid selector (see {@link validateLabelSelector}).
 * @returns `(labels) => boolean`.
 * @see kubernetes/apimachinery pkg/labels `Selector.Matches`
 * @example
 * ```ts
 * const matches = compileLabelSelector(parseLabelSelector('room=kitchen,cpu>4'))
 * nodes.filter((n) => matches(n.passport.metadata.labels))
 * ```
 * @public
 */
export function compileLabelSelector(
  selector: LabelSelector,
): (labels: Readonly<Record<string, string>> | undefined) => boolean {
  const keys: string[] = []
  const values: string[] = []
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    keys.push(key)
    values.push(value)
  }
  const tests = (selector.matchExpressions ?? []).map(compileRequirement)
  const pairs = keys.length
  const count = tests.length
  return (labels) => {
    // A present label is an own string value: nothing on Object.prototype is a string.
    const own = (labels ?? EMPTY) as Record<string, unknown>
    for (let i = 0; i < pairs; i++) {
      if (own[keys[i] as string] !== values[i]) return false
    }
    for (let i = 0; i < count; i++) {
      if (!(tests[i] as (labels: Record<string, unknown>) => boolean)(own)) return false
    }
    return true
  }
}

const EMPTY: Readonly<Record<string, string>> = Object.freeze({})

function compileRequirement(
  requirement: LabelSelectorRequirement,
): (labels: Record<string, unknown>) => boolean {
  const { key, operator } = requirement
  const set = new Set(requirement.values ?? [])
  switch (operator) {
    case 'In':
      return (labels) => {
        const value = labels[key]
        return typeof value === 'string' && set.has(value)
      }
    case 'NotIn':
      return (labels) => {
        const value = labels[key]
        return typeof value !== 'string' || !set.has(value)
      }
    case 'Exists':
      return (labels) => typeof labels[key] === 'string'
    case 'DoesNotExist':
      return (labels) => typeof labels[key] !== 'string'
    case 'Gt':
    case 'Lt': {
      const compare = labelNumberComparer(requirement.values?.[0] ?? '')
      const want = operator === 'Gt' ? 1 : -1
      return (labels) => {
        const value = labels[key]
        return typeof value === 'string' && compare(value) === want
      }
    }
    default:
      return () => false
  }
}

function collectIssues(selector: LabelSelector, path: string, issues: SelectorIssue[]): void {
  const { matchLabels, matchExpressions } = selector
  if (matchLabels !== undefined) {
    if (matchLabels === null || typeof matchLabels !== 'object' || Array.isArray(matchLabels)) {
      issues.push({ path: `${path}/matchLabels`, keyword: 'type', message: 'must be an object' })
    } else {
      for (const [key, value] of Object.entries(matchLabels)) {
        const at = `${path}/matchLabels/${escapePointer(key)}`
        const keyProblem = labelKeyProblem(key)
        if (keyProblem) issues.push({ path: at, keyword: 'labelKey', message: `key ${keyProblem}` })
        const valueProblem = labelValueProblem(value)
        if (valueProblem) issues.push({ path: at, keyword: 'labelValue', message: valueProblem })
      }
    }
  }
  if (matchExpressions === undefined) return
  if (!Array.isArray(matchExpressions)) {
    issues.push({ path: `${path}/matchExpressions`, keyword: 'type', message: 'must be an array' })
    return
  }
  matchExpressions.forEach((requirement, index) => {
    requirementIssues(requirement, `${path}/matchExpressions/${index}`, issues)
  })
}

function requirementIssues(
  requirement: LabelSelectorRequirement,
  at: string,
  issues: SelectorIssue[],
): void {
  if (requirement === null || typeof requirement !== 'object') {
    issues.push({ path: at, keyword: 'type', message: 'must be an object' })
    return
  }
  const { key, operator, values } = requirement
  const keyProblem = typeof key === 'string' ? labelKeyProblem(key) : 'must be a string'
  if (keyProblem) issues.push({ path: `${at}/key`, keyword: 'labelKey', message: keyProblem })
  if (!OPERATORS.has(operator)) {
    issues.push({
      path: `${at}/operator`,
      keyword: 'enum',
      message: `must be one of In, NotIn, Exists, DoesNotExist, Gt, Lt (got ${JSON.stringify(operator)})`,
    })
    return
  }
  if (values !== undefined && !Array.isArray(values)) {
    issues.push({ path: `${at}/values`, keyword: 'type', message: 'must be an array of strings' })
    return
  }
  const list = values ?? []
  const valuesAt = `${at}/values`
  if ((operator === 'In' || operator === 'NotIn') && list.length === 0) {
    issues.push({
      path: valuesAt,
      keyword: 'minItems',
      message: `must hold at least one value for ${operator}`,
    })
  }
  if ((operator === 'Exists' || operator === 'DoesNotExist') && list.length > 0) {
    issues.push({ path: valuesAt, keyword: 'maxItems', message: `must be empty for ${operator}` })
  }
  if (operator === 'Gt' || operator === 'Lt') {
    if (list.length !== 1) {
      issues.push({
        path: valuesAt,
        keyword: 'items',
        message: `must hold exactly one value for ${operator}`,
      })
    } else if (compareLabelNumbers(list[0] as string, list[0] as string) === undefined) {
      issues.push({
        path: `${valuesAt}/0`,
        keyword: 'format',
        message: `must be a base-10 integer or a Kubernetes quantity for ${operator} (got ${JSON.stringify(list[0])})`,
      })
    }
    return
  }
  list.forEach((value, index) => {
    const problem = typeof value === 'string' ? labelValueProblem(value) : 'must be a string'
    if (problem)
      issues.push({ path: `${valuesAt}/${index}`, keyword: 'labelValue', message: problem })
  })
}

/** RFC 6901: `~` → `~0`, `/` → `~1`. */
function escapePointer(token: string): string {
  return token.replaceAll('~', '~0').replaceAll('/', '~1')
}
