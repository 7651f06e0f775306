import { CoreError, QUANTITY_PATTERN } from '@core/contracts'

/**
 * A Kubernetes resource quantity as an exact fraction `numerator / denominator`
 * (denominator > 0), so that `500m`, `0.5` and `5e-1` compare equal without rounding.
 * @public
 */
export interface Quantity {
  readonly numerator: bigint
  readonly denominator: bigint
}

const QUANTITY_RE = new RegExp(QUANTITY_PATTERN)
const INTEGER_RE = /^[+-]?[0-9]+$/
/** Decimal exponents beyond this are refused: `1e999999999` would not fit in memory. */
const MAX_EXPONENT = 300

const BINARY: Readonly<Record<string, number>> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 }
const DECIMAL: Readonly<Record<string, number>> = {
  n: -9,
  u: -6,
  m: -3,
  k: 3,
  M: 6,
  G: 9,
  T: 12,
  P: 15,
  E: 18,
}

/**
 * Parses a Kubernetes resource quantity (`"2"`, `"500m"`, `"4Gi"`, `"2k"`, `"1e3"`, `"-1.5"`)
 * into an exact fraction; returns `undefined` for anything else (no throw: a label value that
 * is not a quantity simply does not compare).
 *
 * Suffixes: binary `Ki Mi Gi Ti Pi Ei` (powers of 1024), decimal SI `n u m k M G T P E`, or a
 * decimal exponent `e<n>`/`E<n>` with |n| ≤ 300.
 *
 * @param text - The quantity as written.
 * @returns The exact value, or `undefined` when `text` is not a quantity.
 * @see kubernetes/apimachinery pkg/api/resource `ParseQuantity` (quantity.go)
 * @example
 * ```ts
 * compareQuantities(parseQuantity('4Gi')!, parseQuantity('4G')!) // 1: 4 GiB > 4 GB
 * ```
 * @public
 */
export function parseQuantity(text: string): Quantity | undefined {
  if (text.length > 64 || !QUANTITY_RE.test(text)) return undefined
  const match = /^([+-]?)([0-9]*)(?:\.([0-9]*))?(.*)$/.exec(text)
  if (!match) return undefined
  const [, sign = '', whole = '', fraction = '', suffix = ''] = match
  let numerator = BigInt(`${whole}${fraction}` || '0')
  let denominator = 10n ** BigInt(fraction.length)
  if (suffix in BINARY) {
    numerator *= 2n ** BigInt(BINARY[suffix] as number)
  } else {
    let exponent = 0
    if (suffix in DECIMAL) exponent = DECIMAL[suffix] as number
    else if (suffix !== '') exponent = Number(suffix.slice(1))
    if (!Number.isSafeInteger(exponent) || Math.abs(exponent) > MAX_EXPONENT) return undefined
    if (exponent >= 0) numerator *= 10n ** BigInt(exponent)
    else denominator *= 10n ** BigInt(-exponent)
  }
  return { numerator: sign === '-' ? -numerator : numerator, denominator }
}

/**
 * Parses a quantity and throws when it is not one.
 * @param text - The quantity as written.
 * @param path - Where it came from, for the message (`/spec/resources/memory`).
 * @returns The exact value.
 * @throws {@link @core/contracts!CoreError} `E_VALIDATION` naming `path` when `text` is not a quantity.
 * @see kubernetes/apimachinery pkg/api/resource `MustParse`
 * @example
 * ```ts
 * assertQuantity('500m', '/spec/resources/cpu') // { numerator: 500n, denominator: 1000n }
 * ```
 * @public
 */
export function assertQuantity(text: string, path: string): Quantity {
  const quantity = parseQuantity(text)
  if (quantity !== undefined) return quantity
  throw new CoreError(
    'E_VALIDATION',
    `Invalid quantity at ${path}: "${text}" is not a Kubernetes quantity (write e.g. "2", "500m", "4Gi", "1e3")`,
    { details: { errors: [{ path, keyword: 'quantity', message: 'is not a quantity' }] } },
  )
}

/**
 * Compares two quantities exactly.
 * @param a - Left side.
 * @param b - Right side.
 * @returns `-1`, `0` or `1` as `a` is less than, equal to or greater than `b`.
 * @example
 * ```ts
 * compareQuantities(parseQuantity('500m')!, parseQuantity('0.5')!) // 0
 * ```
 * @public
 */
export function compareQuantities(a: Quantity, b: Quantity): -1 | 0 | 1 {
  const left = a.numerator * b.denominator
  const right = b.numerator * a.denominator
  return left < right ? -1 : left > right ? 1 : 0
}

/**
 * Compares two label values the way a `Gt`/`Lt` requirement does: base-10 integers numerically
 * (Kubernetes node affinity), else, when both sides parse as quantities, as quantities (our
 * extension, so that `memory Gt 4Gi` works). Anything else does not compare.
 * @internal
 */
export function compareLabelNumbers(a: string, b: string): -1 | 0 | 1 | undefined {
  if (INTEGER_RE.test(a) && INTEGER_RE.test(b)) {
    const x = BigInt(a)
    const y = BigInt(b)
    return x < y ? -1 : x > y ? 1 : 0
  }
  const qa = parseQuantity(a)
  if (qa === undefined) return undefined
  const qb = parseQuantity(b)
  if (qb === undefined) return undefined
  return compareQuantities(qa, qb)
}

/**
 * `compareLabelNumbers(value, bound)` with `bound` parsed once: small integers compare as
 * numbers, larger ones as BigInt, quantities as exact fractions.
 * @internal
 */
export function labelNumberComparer(bound: string): (value: string) => -1 | 0 | 1 | undefined {
  const boundIsInteger = INTEGER_RE.test(bound)
  const small = boundIsInteger && SMALL_INTEGER_RE.test(bound) ? Number(bound) : undefined
  const big = boundIsInteger ? BigInt(bound) : undefined
  const quantity = parseQuantity(bound)
  return (value) => {
    if (boundIsInteger && INTEGER_RE.test(value)) {
      if (small !== undefined && SMALL_INTEGER_RE.test(value)) {
        const n = Number(value)
        return n < small ? -1 : n > small ? 1 : 0
      }
      const x = BigInt(value)
      return x < (big as bigint) ? -1 : x > (big as bigint) ? 1 : 0
    }
    if (quantity === undefined) return undefined
    const q = parseQuantity(value)
    return q === undefined ? undefined : compareQuantities(q, quantity)
  }
}

/** Integers that fit a double exactly (15 digits). */
const SMALL_INTEGER_RE = /^[+-]?[0-9]{1,15}$/
