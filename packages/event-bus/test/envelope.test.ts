import { describe, expect, it } from 'vitest'
import { randomUuid } from '../src/envelope.js'

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

describe('randomUuid', () => {
  it('should make distinct RFC 9562 version 4 UUIDs, across refills of its random pool', () => {
    const ids = Array.from({ length: 10_000 }, () => randomUuid()) // the pool holds 4,096
    for (const id of ids) expect(id).toMatch(UUID_V4)
    expect(new Set(ids).size).toBe(ids.length)
  })

  it('should vary every random hex digit (no position stuck, as a broken pool would leave it)', () => {
    const ids = Array.from({ length: 2_000 }, () => randomUuid())
    for (let position = 0; position < 36; position++) {
      if ([8, 13, 14, 18, 23].includes(position)) continue // dashes and the version digit
      const digits = new Set(ids.map((id) => id[position]))
      expect([position, digits.size >= (position === 19 ? 4 : 16)]).toEqual([position, true])
    }
  })
})
