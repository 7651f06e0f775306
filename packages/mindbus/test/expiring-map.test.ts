import { describe, expect, it } from 'vitest'
import { ExpiringMap } from '../src/state.js'

describe('ExpiringMap', () => {
  it('forgets an entry once it is older than ttlMs', () => {
    let now = 1_000
    const map = new ExpiringMap<string>(100, 10, () => now)
    map.set('a', 'first')
    now += 100
    expect(map.get('a')).toBe('first')
    now += 1
    expect(map.get('a')).toBeUndefined()
    expect(map.has('a')).toBe(false)
  })

  it('holds at most max entries, forgetting the oldest first; a key set again counts as new', () => {
    const map = new ExpiringMap<number>(60_000, 3, () => 0)
    map.set('a', 1)
    map.set('b', 2)
    map.set('c', 3)
    map.set('a', 4) // a is now the newest
    map.set('d', 5) // b goes
    expect(map.get('b')).toBeUndefined()
    expect([map.get('a'), map.get('c'), map.get('d')]).toEqual([4, 3, 5])
    map.set('e', 6) // c goes
    expect(map.has('c')).toBe(false)
    expect(map.size).toBe(3)
  })

  it('prunes expired entries on set, and stays bounded over many sets (the same keys again too)', () => {
    let now = 0
    const map = new ExpiringMap<number>(1_000, 5_000, () => now)
    for (let i = 0; i < 50_000; i++) {
      now = i
      map.set(`k${i}`, i)
      map.set(`k${i}`, -i) // as the command dedup does: "running", then the result
      map.set('hot', i)
    }
    // Only the last second's keys (and "hot") are left.
    expect(map.size).toBe(1_002)
    expect(map.get('k48999')).toBe(-48_999)
    expect(map.get('k49999')).toBe(-49_999)
    expect(map.get('k48998')).toBeUndefined()
    expect(map.get('hot')).toBe(49_999)
  })

  it('forgets the oldest entries once their weights add up to more than maxWeight', () => {
    const map = new ExpiringMap<string>(60_000, 100, () => 0, 10)
    map.set('a', 'A', 4)
    map.set('b', 'B', 4)
    expect(map.weight).toBe(8)
    map.set('c', 'C', 4) // 12 > 10: a goes
    expect(map.get('a')).toBeUndefined()
    expect([map.get('b'), map.get('c')]).toEqual(['B', 'C'])
    expect(map.weight).toBe(8)
    map.set('b', 'B2', 1) // replacing b gives its weight back
    expect(map.weight).toBe(5)
    map.set('d', 'D', 0)
    expect(map.size).toBe(3)
  })

  it('keeps no value heavier than maxWeight alone, and drops what its key held', () => {
    const map = new ExpiringMap<string>(60_000, 100, () => 0, 10)
    map.set('a', 'A', 3)
    map.set('big', 'small first', 2)
    map.set('big', 'too big', 11)
    expect(map.get('big')).toBeUndefined()
    expect(map.get('a')).toBe('A')
    expect(map.weight).toBe(3)
  })

  it('gives back the weight of an entry that expires', () => {
    let now = 0
    const map = new ExpiringMap<string>(100, 100, () => now, 10)
    map.set('a', 'A', 6)
    now = 101
    expect(map.get('a')).toBeUndefined() // expired on read
    expect(map.weight).toBe(0)
    map.set('b', 'B', 6)
    map.set('c', 'C', 4)
    expect([map.get('b'), map.get('c')]).toEqual(['B', 'C'])
  })
})
