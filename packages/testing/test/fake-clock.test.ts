import { CoreError } from '@core/contracts'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createFakeClock, FAKE_CLOCK_EPOCH_MS } from '../src/index.js'

describe('createFakeClock', () => {
  it('starts at 2025-01-01T00:00:00Z unless told otherwise and stands still', async () => {
    const clock = createFakeClock()
    expect(clock.now()).toBe(FAKE_CLOCK_EPOCH_MS)
    expect(new Date(clock.now()).toISOString()).toBe('2025-01-01T00:00:00.000Z')
    await new Promise((r) => setTimeout(r, 5))
    expect(clock.now()).toBe(FAKE_CLOCK_EPOCH_MS)
    expect(createFakeClock({ now: 42 }).now()).toBe(42)
  })

  it('fires a timer only once time reaches its due time', async () => {
    const clock = createFakeClock({ now: 0 })
    const fired: number[] = []
    clock.setTimeout(() => fired.push(clock.now()), 1_000)
    await clock.advance(999)
    expect(fired).toEqual([])
    await clock.advance(1)
    expect(fired).toEqual([1_000])
    expect(clock.pending()).toBe(0)
  })

  it('fires timers in due order, ties in the order they were set, with now() at each due time', async () => {
    const clock = createFakeClock({ now: 0 })
    const fired: string[] = []
    clock.setTimeout(() => fired.push(`c@${clock.now()}`), 30)
    clock.setTimeout(() => fired.push(`a@${clock.now()}`), 10)
    clock.setTimeout(() => fired.push(`b@${clock.now()}`), 10)
    await clock.advance(100)
    expect(fired).toEqual(['a@10', 'b@10', 'c@30'])
    expect(clock.now()).toBe(100)
  })

  it('fires timers set by timers when they fall due within the same advance', async () => {
    const clock = createFakeClock({ now: 0 })
    const fired: number[] = []
    const tick = (): void => {
      fired.push(clock.now())
      clock.setTimeout(tick, 100)
    }
    clock.setTimeout(tick, 100)
    await clock.advance(350)
    expect(fired).toEqual([100, 200, 300])
    expect(clock.nextDueAt()).toBe(400)
  })

  it('lets promise work started by a timer settle before advance resolves', async () => {
    const clock = createFakeClock({ now: 0 })
    let done = false
    clock.setTimeout(() => {
      void Promise.resolve()
        .then(() => Promise.resolve())
        .then(() => {
          done = true
        })
    }, 5)
    await clock.advance(5)
    expect(done).toBe(true)
  })

  it('cancels a timer with clearTimeout and ignores foreign handles', async () => {
    const clock = createFakeClock({ now: 0 })
    let fired = false
    const handle = clock.setTimeout(() => {
      fired = true
    }, 10)
    clock.clearTimeout(handle)
    clock.clearTimeout(undefined)
    clock.clearTimeout({ id: 99 })
    await clock.advance(20)
    expect(fired).toBe(false)
  })

  it('rejects a negative or non-finite advance with E_VALIDATION', async () => {
    const clock = createFakeClock()
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
      const error = await clock.advance(bad).catch((e: unknown) => e)
      expect(CoreError.is(error, 'E_VALIDATION')).toBe(true)
    }
  })

  it('finishes the advance when a timer throws, then rejects with its error', async () => {
    const clock = createFakeClock({ now: 0 })
    let later = false
    clock.setTimeout(() => {
      throw new Error('boom')
    }, 1)
    clock.setTimeout(() => {
      later = true
    }, 2)
    await expect(clock.advance(5)).rejects.toThrow('boom')
    expect(later).toBe(true)
    expect(clock.now()).toBe(5)
  })

  it('runAll fires every pending timer and stops an endless interval with E_TIMEOUT', async () => {
    const clock = createFakeClock({ now: 0 })
    const fired: number[] = []
    clock.setTimeout(() => fired.push(clock.now()), 50)
    clock.setTimeout(() => fired.push(clock.now()), 5_000)
    await clock.runAll()
    expect(fired).toEqual([50, 5_000])
    const again = (): void => {
      clock.setTimeout(again, 1)
    }
    again()
    const error = await clock.runAll(100).catch((e: unknown) => e)
    expect(CoreError.is(error, 'E_TIMEOUT')).toBe(true)
  })

  it('fires any set of timers in (dueAt, order set) order whatever the advance steps', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 1_000 }), { maxLength: 30 }),
        fc.array(fc.integer({ min: 0, max: 300 }), { minLength: 1, maxLength: 10 }),
        async (delays, steps) => {
          const clock = createFakeClock({ now: 0 })
          const fired: Array<{ i: number; at: number }> = []
          for (const [i, d] of delays.entries())
            clock.setTimeout(() => fired.push({ i, at: clock.now() }), d)
          for (const s of steps) await clock.advance(s)
          await clock.advance(1_000)
          const expected = delays
            .map((d, i) => ({ i, at: d }))
            .sort((a, b) => a.at - b.at || a.i - b.i)
          expect(fired).toEqual(expected)
        },
      ),
      { numRuns: 50 },
    )
  })
})
