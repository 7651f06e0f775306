import { CoreError } from '@core/contracts'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  formatLabelSelector,
  type LabelSelector,
  type LabelSelectorRequirement,
  matchLabelSelector,
  parseLabelSelector,
  validateLabelSelector,
} from '../src/index.js'

const refused = (run: () => unknown): CoreError => {
  try {
    run()
  } catch (error) {
    expect(CoreError.is(error, 'E_VALIDATION')).toBe(true)
    return error as CoreError
  }
  throw new Error('expected E_VALIDATION, nothing was thrown')
}

describe('matchLabelSelector (Kubernetes semantics)', () => {
  const labels = { room: 'kitchen', floor: '1', memory: '8Gi', cpu: '500m', name: 'x' }

  it('should match everything with an empty selector', () => {
    expect(matchLabelSelector({}, labels)).toBe(true)
    expect(matchLabelSelector({ matchLabels: {}, matchExpressions: [] }, {})).toBe(true)
  })

  it('should AND matchLabels and every requirement', () => {
    expect(matchLabelSelector({ matchLabels: { room: 'kitchen', floor: '1' } }, labels)).toBe(true)
    expect(matchLabelSelector({ matchLabels: { room: 'kitchen', floor: '2' } }, labels)).toBe(false)
    expect(
      matchLabelSelector(
        {
          matchLabels: { room: 'kitchen' },
          matchExpressions: [{ key: 'floor', operator: 'In', values: ['2'] }],
        },
        labels,
      ),
    ).toBe(false)
  })

  it('should let NotIn and DoesNotExist match a missing label, In and Exists not', () => {
    const missing = (operator: LabelSelectorRequirement['operator'], values?: string[]) =>
      matchLabelSelector({ matchExpressions: [{ key: 'gpu', operator, values }] }, labels)
    expect(missing('NotIn', ['a'])).toBe(true)
    expect(missing('DoesNotExist')).toBe(true)
    expect(missing('In', ['a'])).toBe(false)
    expect(missing('Exists')).toBe(false)
    expect(missing('Gt', ['1'])).toBe(false)
    expect(missing('Lt', ['1'])).toBe(false)
  })

  it('should compare Gt/Lt integers numerically, not as text', () => {
    const gt = (value: string, bound: string) =>
      matchLabelSelector(
        { matchExpressions: [{ key: 'n', operator: 'Gt', values: [bound] }] },
        { n: value },
      )
    expect(gt('10', '9')).toBe(true)
    expect(gt('9', '10')).toBe(false)
    expect(gt('-1', '-2')).toBe(true)
    expect(gt('5', '5')).toBe(false)
    expect(gt('99999999999999999999', '9223372036854775807')).toBe(true)
  })

  it('should not match Gt/Lt when the label value is not a number', () => {
    expect(
      matchLabelSelector(
        { matchExpressions: [{ key: 'name', operator: 'Gt', values: ['1'] }] },
        labels,
      ),
    ).toBe(false)
    expect(
      matchLabelSelector(
        { matchExpressions: [{ key: 'name', operator: 'Lt', values: ['1'] }] },
        labels,
      ),
    ).toBe(false)
  })

  it('should compare Kubernetes quantities when both sides are quantities (memory Gt 4Gi)', () => {
    const req = (key: string, operator: 'Gt' | 'Lt', bound: string): LabelSelector => ({
      matchExpressions: [{ key, operator, values: [bound] }],
    })
    expect(matchLabelSelector(req('memory', 'Gt', '4Gi'), labels)).toBe(true)
    expect(matchLabelSelector(req('memory', 'Gt', '8Gi'), labels)).toBe(false)
    expect(matchLabelSelector(req('memory', 'Gt', '8G'), labels)).toBe(true) // 8 GiB > 8 GB
    expect(matchLabelSelector(req('cpu', 'Lt', '1'), labels)).toBe(true)
    expect(matchLabelSelector(req('cpu', 'Gt', '0.4'), labels)).toBe(true)
    expect(matchLabelSelector(req('cpu', 'Gt', '5e-1'), labels)).toBe(false) // 500m = 0.5
  })
})

describe('validateLabelSelector', () => {
  it('should refuse In without values, naming the path', () => {
    const error = refused(() =>
      validateLabelSelector({ matchExpressions: [{ key: 'tier', operator: 'In', values: [] }] }),
    )
    expect(error.message).toContain('/matchExpressions/0/values')
  })

  it('should refuse Gt with a value that is neither an integer nor a quantity', () => {
    const error = refused(() =>
      validateLabelSelector({ matchExpressions: [{ key: 'x', operator: 'Gt', values: ['bar'] }] }),
    )
    expect(error.message).toContain('/matchExpressions/0/values/0')
    refused(() =>
      validateLabelSelector({
        matchExpressions: [{ key: 'x', operator: 'Lt', values: ['1', '2'] }],
      }),
    )
  })

  it('should refuse values on Exists, unknown operators, bad keys and bad values', () => {
    refused(() =>
      validateLabelSelector({
        matchExpressions: [{ key: 'x', operator: 'Exists', values: ['a'] }],
      }),
    )
    refused(() =>
      validateLabelSelector({
        matchExpressions: [
          { key: 'x', operator: 'Equals' as LabelSelectorRequirement['operator'] },
        ],
      }),
    )
    refused(() => validateLabelSelector({ matchLabels: { '-bad': 'a' } }))
    refused(() => validateLabelSelector({ matchLabels: { ok: 'bad value' } }))
    refused(() => validateLabelSelector({ matchLabels: { ok: 'a'.repeat(64) } }))
    refused(() => validateLabelSelector({ matchLabels: { [`${'a'.repeat(254)}/x`]: 'a' } }))
    expect(() =>
      validateLabelSelector({ matchLabels: { 'example.com/zone': '', zone: 'a' } }),
    ).not.toThrow()
  })
})

describe('parseLabelSelector / formatLabelSelector', () => {
  it('should parse the issue example into the structured selector', () => {
    expect(parseLabelSelector('zone=kitchen,tier in (a,b),!gpu,x>1')).toEqual({
      matchLabels: { zone: 'kitchen' },
      matchExpressions: [
        { key: 'tier', operator: 'In', values: ['a', 'b'] },
        { key: 'gpu', operator: 'DoesNotExist' },
        { key: 'x', operator: 'Gt', values: ['1'] },
      ],
    })
  })

  it('should read ==, !=, notin, Exists, < and spaces as Kubernetes does', () => {
    expect(parseLabelSelector(' a == 1 , b != 2 , c notin ( x , y ) , d , e < 5 ')).toEqual({
      matchLabels: { a: '1' },
      matchExpressions: [
        { key: 'b', operator: 'NotIn', values: ['2'] },
        { key: 'c', operator: 'NotIn', values: ['x', 'y'] },
        { key: 'd', operator: 'Exists' },
        { key: 'e', operator: 'Lt', values: ['5'] },
      ],
    })
    expect(parseLabelSelector('')).toEqual({ matchLabels: {}, matchExpressions: [] })
    expect(parseLabelSelector('a=')).toEqual({ matchLabels: { a: '' }, matchExpressions: [] })
  })

  it('should keep two different equalities of one key as requirements that both hold', () => {
    const selector = parseLabelSelector('a=1,a=2')
    expect(matchLabelSelector(selector, { a: '1' })).toBe(false)
    expect(matchLabelSelector(selector, { a: '2' })).toBe(false)
  })

  it('should refuse bad text with the offending position', () => {
    for (const [text, position] of [
      ['a=1,', 4],
      ['a in b', 5],
      ['=x', 0],
      ['a in (x', 7],
      ['a > ', 4],
      ['!', 1],
    ] as const) {
      const error = refused(() => parseLabelSelector(text))
      expect(error.details?.position, text).toBe(position)
      expect(error.message).toContain(`position ${position}`)
    }
    refused(() => parseLabelSelector('a in ()'))
    refused(() => parseLabelSelector('x>bar'))
    refused(() => parseLabelSelector('bad key=1'))
  })

  it('should format canonically', () => {
    expect(
      formatLabelSelector({
        matchLabels: { zone: 'kitchen' },
        matchExpressions: [
          { key: 'tier', operator: 'In', values: ['a', 'b'] },
          { key: 'gpu', operator: 'DoesNotExist' },
          { key: 'x', operator: 'Gt', values: ['1'] },
          { key: 'y', operator: 'Exists' },
          { key: 'z', operator: 'NotIn', values: ['q'] },
          { key: 'm', operator: 'Lt', values: ['4Gi'] },
        ],
      }),
    ).toBe('zone=kitchen,tier in (a,b),!gpu,x>1,y,z notin (q),m<4Gi')
  })
})

// ---- property tests ----------------------------------------------------------------------

const name = fc.stringMatching(/^[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,8}[A-Za-z0-9])?$/)
const labelKey = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('a', 'b', 'c', 'zone', 'x') },
  { weight: 1, arbitrary: name },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom('example.com', 'k8s.io'), name)
      .map(([p, n]) => `${p}/${n}`),
  },
)
const labelValue = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('1', '2', '10', '0', 'v', '4Gi', '500m', '1e3') },
  { weight: 1, arbitrary: name },
)
const numberValue = fc.oneof(
  fc.integer({ min: -50, max: 50 }).map(String),
  fc.constantFrom('4Gi', '500m', '2k', '1e3', '0.5'),
)
const requirement: fc.Arbitrary<LabelSelectorRequirement> = fc.oneof(
  fc.record({
    key: labelKey,
    operator: fc.constantFrom('In' as const, 'NotIn' as const),
    values: fc.array(
      labelValue.filter((v) => v !== ''),
      { minLength: 1, maxLength: 3 },
    ),
  }),
  fc.record({
    key: labelKey,
    operator: fc.constantFrom('Exists' as const, 'DoesNotExist' as const),
  }),
  fc.record({
    key: labelKey,
    operator: fc.constantFrom('Gt' as const, 'Lt' as const),
    values: numberValue.map((v) => [v]),
  }),
)
const selector: fc.Arbitrary<Required<LabelSelector>> = fc.record({
  matchLabels: fc.dictionary(labelKey, labelValue, { maxKeys: 3 }),
  matchExpressions: fc.array(requirement, { maxLength: 4 }),
})
const labels = fc.dictionary(labelKey, labelValue, { maxKeys: 5 })

/** The definition, written out directly from the Kubernetes docs, independent of the code. */
function reference(s: Required<LabelSelector>, l: Record<string, string>): boolean {
  const num = (v: string): number | undefined => {
    if (/^[+-]?\d+$/.test(v)) return Number(v)
    const m = /^([+-]?\d*\.?\d+)(Ki|Mi|Gi|m|k|e3)?$/.exec(v)
    if (!m) return undefined
    const scale: Record<string, number> = {
      Ki: 1024,
      Mi: 1024 ** 2,
      Gi: 1024 ** 3,
      m: 1e-3,
      k: 1e3,
      e3: 1e3,
    }
    return Number(m[1]) * (m[2] ? (scale[m[2]] as number) : 1)
  }
  const pairs = Object.entries(s.matchLabels).every(([k, v]) => k in l && l[k] === v)
  const reqs = s.matchExpressions.every((r) => {
    const present = Object.hasOwn(l, r.key)
    const v = l[r.key]
    switch (r.operator) {
      case 'In':
        return present && (r.values ?? []).some((x) => x === v)
      case 'NotIn':
        return !present || !(r.values ?? []).some((x) => x === v)
      case 'Exists':
        return present
      case 'DoesNotExist':
        return !present
      default: {
        if (!present) return false
        const a = num(v as string)
        const b = num((r.values ?? [])[0] as string)
        if (a === undefined || b === undefined) return false
        return r.operator === 'Gt' ? a > b : a < b
      }
    }
  })
  return pairs && reqs
}

describe('label selector properties (fast-check)', () => {
  it('parseLabelSelector(formatLabelSelector(s)) gives s back', () => {
    fc.assert(
      fc.property(selector, (s) => {
        expect(parseLabelSelector(formatLabelSelector(s))).toEqual(s)
      }),
      { numRuns: 500 },
    )
  })

  it('matchLabelSelector agrees with the direct reference definition', () => {
    fc.assert(
      fc.property(selector, labels, (s, l) => {
        expect(matchLabelSelector(s, l)).toBe(reference(s, l))
      }),
      { numRuns: 2_000 },
    )
  })

  it('the string form matches exactly the same label sets', () => {
    fc.assert(
      fc.property(selector, labels, (s, l) => {
        expect(matchLabelSelector(parseLabelSelector(formatLabelSelector(s)), l)).toBe(
          matchLabelSelector(s, l),
        )
      }),
      { numRuns: 500 },
    )
  })
})
