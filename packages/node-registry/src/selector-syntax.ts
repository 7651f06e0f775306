import { CoreError } from '@core/contracts'
import {
  type LabelSelector,
  type LabelSelectorRequirement,
  validateLabelSelector,
} from './label-selector.js'

/**
 * Parses the Kubernetes label selector string syntax into a structured selector:
 *
 * - `key=value`, `key==value` → `matchLabels` (a second, different value for the same key
 *   becomes an `In` requirement, so both still hold);
 * - `key!=value` → `NotIn [value]`; `key in (a,b)` / `key notin (a,b)`;
 * - `key` → `Exists`; `!key` → `DoesNotExist`; `key>1` / `key<1` → `Gt` / `Lt`;
 * - requirements are separated by `,` and all must hold; spaces around tokens are ignored;
 *   the empty string is the empty selector (matches everything).
 *
 * The result always has both `matchLabels` and `matchExpressions` (possibly empty), and is
 * validated as {@link validateLabelSelector} does.
 *
 * @param text - The selector, e.g. `zone=kitchen,tier in (a,b),!gpu,x>1`; at most 4,096 characters.
 * @returns The structured selector.
 * @throws {@link @core/contracts!CoreError} `E_VALIDATION` on bad text, naming the 0-based character position
 *   (`details.position`) and what was expected there; or on a bad key, value or requirement.
 * @see kubernetes/apimachinery pkg/labels `Parse` (selector.go) and `metav1.LabelSelector`
 * @example
 * ```ts
 * parseLabelSelector('zone=kitchen,tier in (a,b),!gpu,x>1')
 * // { matchLabels: { zone: 'kitchen' }, matchExpressions: [
 * //   { key: 'tier', operator: 'In', values: ['a', 'b'] },
 * //   { key: 'gpu', operator: 'DoesNotExist' }, { key: 'x', operator: 'Gt', values: ['1'] } ] }
 * ```
 * @public
 */
export function parseLabelSelector(text: string): Required<LabelSelector> {
  if (typeof text !== 'string' || text.length > 4096) {
    throw new CoreError(
      'E_VALIDATION',
      'Invalid label selector: must be a string of at most 4,096 characters',
      { details: { errors: [{ path: '/', keyword: 'maxLength', message: 'is too long' }] } },
    )
  }
  const tokens = tokenize(text)
  const selector: Required<LabelSelector> = { matchLabels: {}, matchExpressions: [] }
  let i = 0
  const peek = (): Token => tokens[i] as Token
  const next = (): Token => tokens[i++] as Token
  const expect = (kind: TokenKind, what: string): Token => {
    const token = next()
    if (token.kind !== kind) fail(text, token, what)
    return token
  }
  if (peek().kind === 'end') return selector
  for (;;) {
    let token = next()
    if (token.kind === 'not') {
      const key = expect('word', 'a label key after "!"')
      selector.matchExpressions.push({ key: key.text, operator: 'DoesNotExist' })
    } else if (token.kind === 'word') {
      const key = token.text
      token = peek()
      if (token.kind === 'comma' || token.kind === 'end') {
        selector.matchExpressions.push({ key, operator: 'Exists' })
      } else {
        next()
        addRequirement(selector, key, token, () => {
          if (token.kind === 'in' || token.kind === 'notin') {
            expect('open', `"(" after "${token.text}"`)
            const values: string[] = []
            if (peek().kind === 'close') {
              next()
              return values // `in ()`: refused below, a set needs a value
            }
            for (;;) {
              const value = peek()
              if (value.kind === 'word') {
                values.push(next().text)
              } else if (value.kind === 'comma' || value.kind === 'close') {
                values.push('') // an empty value in a set, as Kubernetes allows
              } else {
                fail(text, value, 'a value, "," or ")"')
              }
              const separator = next()
              if (separator.kind === 'close') return values
              if (separator.kind !== 'comma') fail(text, separator, '"," or ")"')
            }
          }
          const value = peek()
          if (value.kind === 'word') return [next().text]
          if (token.kind === 'gt' || token.kind === 'lt') fail(text, value, 'a number')
          return [''] // `key=` and `key!=` compare with the empty value
        })
      }
    } else {
      fail(text, token, 'a label key or "!"')
    }
    const separator = next()
    if (separator.kind === 'end') break
    if (separator.kind !== 'comma') fail(text, separator, '"," or the end of the selector')
  }
  validateLabelSelector(selector)
  return selector
}

/**
 * Writes a structured selector in the Kubernetes string syntax, canonically: `matchLabels` as
 * `key=value` in their order, then each requirement in its order (`key in (a,b)`,
 * `key notin (a)`, `key`, `!key`, `key>1`, `key<1`), joined by `,` without spaces.
 * `parseLabelSelector(formatLabelSelector(s))` gives `s` back (with both fields present).
 *
 * @param selector - A valid selector.
 * @returns The string form; `""` for the empty selector.
 * @throws {@link @core/contracts!CoreError} `E_VALIDATION` when the selector is invalid.
 * @see kubernetes/apimachinery pkg/labels `Requirement.String`
 * @example
 * ```ts
 * formatLabelSelector({ matchLabels: { zone: 'kitchen' }, matchExpressions: [{ key: 'gpu', operator: 'DoesNotExist' }] })
 * // 'zone=kitchen,!gpu'
 * ```
 * @public
 */
export function formatLabelSelector(selector: LabelSelector): string {
  validateLabelSelector(selector)
  const parts: string[] = []
  for (const [key, value] of Object.entries(selector.matchLabels ?? {}))
    parts.push(`${key}=${value}`)
  for (const { key, operator, values = [] } of selector.matchExpressions ?? []) {
    switch (operator) {
      case 'In':
        parts.push(`${key} in (${values.join(',')})`)
        break
      case 'NotIn':
        parts.push(`${key} notin (${values.join(',')})`)
        break
      case 'Exists':
        parts.push(key)
        break
      case 'DoesNotExist':
        parts.push(`!${key}`)
        break
      case 'Gt':
        parts.push(`${key}>${values[0]}`)
        break
      case 'Lt':
        parts.push(`${key}<${values[0]}`)
        break
    }
  }
  return parts.join(',')
}

type TokenKind =
  | 'word'
  | 'not'
  | 'eq'
  | 'neq'
  | 'gt'
  | 'lt'
  | 'in'
  | 'notin'
  | 'open'
  | 'close'
  | 'comma'
  | 'end'

interface Token {
  kind: TokenKind
  text: string
  /** 0-based offset in the selector text. */
  position: number
}

/** Characters that end a word (Kubernetes' lexer: whitespace and the operators). */
const SPECIAL = new Set([' ', '\t', '\n', '\r', '!', '=', '(', ')', ',', '<', '>'])

function tokenize(text: string): Token[] {
  const tokens: Token[] = []
  let i = 0
  while (i < text.length) {
    const c = text[i] as string
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++
      continue
    }
    const position = i
    const two = text.slice(i, i + 2)
    if (two === '!=' || two === '==') {
      tokens.push({ kind: two === '!=' ? 'neq' : 'eq', text: two, position })
      i += 2
      continue
    }
    const single: Record<string, TokenKind> = {
      '!': 'not',
      '=': 'eq',
      '>': 'gt',
      '<': 'lt',
      '(': 'open',
      ')': 'close',
      ',': 'comma',
    }
    const kind = single[c]
    if (kind !== undefined) {
      tokens.push({ kind, text: c, position })
      i++
      continue
    }
    while (i < text.length && !SPECIAL.has(text[i] as string)) i++
    const word = text.slice(position, i)
    const keyword = word === 'in' ? 'in' : word === 'notin' ? 'notin' : 'word'
    tokens.push({ kind: keyword, text: word, position })
  }
  tokens.push({ kind: 'end', text: '', position: text.length })
  return tokens
}

const OPERATOR_OF: Partial<Record<TokenKind, LabelSelectorRequirement['operator'] | 'Equals'>> = {
  eq: 'Equals',
  neq: 'NotIn',
  in: 'In',
  notin: 'NotIn',
  gt: 'Gt',
  lt: 'Lt',
}

function addRequirement(
  selector: Required<LabelSelector>,
  key: string,
  token: Token,
  readValues: () => string[],
): void {
  const operator = OPERATOR_OF[token.kind]
  if (operator === undefined) {
    throw positionError(
      token,
      `expected an operator (=, ==, !=, in, notin, >, <), "," or the end after "${key}"`,
    )
  }
  const values = readValues()
  if (operator !== 'Equals') {
    selector.matchExpressions.push({ key, operator, values })
    return
  }
  const value = values[0] as string
  const known = selector.matchLabels[key]
  if (known === undefined || known === value) selector.matchLabels[key] = value
  else selector.matchExpressions.push({ key, operator: 'In', values: [value] })
}

function fail(text: string, token: Token, expected: string): never {
  const found = token.kind === 'end' ? 'the end' : `"${token.text}"`
  throw positionError(
    token,
    `expected ${expected} at position ${token.position}, found ${found} in "${text}"`,
  )
}

function positionError(token: Token, message: string): CoreError {
  return new CoreError('E_VALIDATION', `Invalid label selector: ${message}`, {
    details: {
      position: token.position,
      errors: [
        { path: '/', keyword: 'syntax', message: `at position ${token.position}: ${message}` },
      ],
    },
  })
}
