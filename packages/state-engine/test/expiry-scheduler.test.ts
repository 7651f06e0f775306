import { createFakeClock } from '@core/contracts/testing'
import { describe, expect, it } from 'vitest'
import {
  createExpiryScheduler,
  type ExpiryItem,
  MAX_TIMER_DELAY_MS,
} from '../src/expiry-scheduler.js'

function setup() {
  const clock = createFakeClock({ now: 0 })
  const due: ExpiryItem[] = []
  const scheduler = createExpiryScheduler(clock, (item) => void due.push(item))
  return { clock, due, scheduler }
}

describe('createExpiryScheduler', () => {
  it('hands over items in deadline order, each when its time comes', () => {
    const { clock, due, scheduler } = setup()
    const deadlines = [50, 10, 40, 20, 30, 10]
    for (const [i, at] of deadlines.entries()) scheduler.schedule('n', `k${i}`, i + 1, at)
    clock.tick(25)
    expect(due.map((d) => d.deadlineAt)).toEqual([10, 10, 20])
    clock.tick(100)
    expect(due.map((d) => d.deadlineAt)).toEqual([10, 10, 20, 30, 40, 50])
    expect(scheduler.size()).toBe(0)
    expect(clock.pending()).toBe(0)
  })

  it('keeps a single timer, re-armed when an earlier deadline arrives', () => {
    const { clock, scheduler } = setup()
    scheduler.schedule('n', 'a', 1, 1000)
    scheduler.schedule('n', 'b', 2, 2000)
    expect(clock.pending()).toBe(1)
    scheduler.schedule('n', 'c', 3, 10)
    expect(clock.pending()).toBe(1)
    expect(clock.delays).toEqual([1000, 10])
  })

  it('replaces the deadline of a key scheduled again, and forgets a cancelled one', () => {
    const { clock, due, scheduler } = setup()
    scheduler.schedule('n', 'a', 1, 10)
    scheduler.schedule('n', 'a', 2, 30)
    scheduler.schedule('n', 'b', 3, 20)
    scheduler.cancel('n', 'b')
    expect(scheduler.size()).toBe(1)
    clock.tick(100)
    expect(due.map((d) => [d.key, d.revision])).toEqual([['a', 2]])
  })

  it('moves a refreshed (later) deadline in place and fires at the new time with the new revision', () => {
    const { clock, due, scheduler } = setup()
    scheduler.schedule('n', 'a', 1, 100)
    scheduler.schedule('n', 'a', 2, 250)
    expect(clock.delays).toEqual([100])
    clock.tick(100)
    expect(due).toEqual([])
    expect(clock.pending()).toBe(1)
    clock.tick(149)
    expect(due).toEqual([])
    clock.tick(1)
    expect(due.map((d) => [d.key, d.revision, d.deadlineAt])).toEqual([['a', 2, 250]])
  })

  it('honours a deadline moved earlier', () => {
    const { clock, due, scheduler } = setup()
    scheduler.schedule('n', 'a', 1, 1000)
    scheduler.schedule('n', 'a', 2, 10)
    clock.tick(10)
    expect(due.map((d) => d.revision)).toEqual([2])
    clock.tick(2000)
    expect(due).toHaveLength(1)
  })

  it('stays proportional to live deadlines when one key is rescheduled many times', () => {
    const { clock, due, scheduler } = setup()
    for (let i = 1; i <= 10_000; i++) scheduler.schedule('n', 'hot', i, 1_000_000 + i)
    expect(scheduler.size()).toBe(1)
    clock.tick(2_000_000)
    expect(due.map((d) => d.revision)).toEqual([10_000])
  })

  it('caps each timer delay at 2^31-1 ms and reaches later deadlines in steps', () => {
    const { clock, due, scheduler } = setup()
    scheduler.schedule('n', 'far', 1, 3 * MAX_TIMER_DELAY_MS)
    expect(clock.delays).toEqual([MAX_TIMER_DELAY_MS])
    clock.tick(2 * MAX_TIMER_DELAY_MS)
    expect(due).toEqual([])
    clock.tick(MAX_TIMER_DELAY_MS)
    expect(due).toHaveLength(1)
  })

  it('fires at once for a deadline already past', () => {
    const { clock, due, scheduler } = setup()
    clock.jump(100)
    scheduler.schedule('n', 'late', 1, 50)
    expect(clock.delays).toEqual([0])
    clock.tick(0)
    expect(due).toHaveLength(1)
  })

  it('stops: clears its timer and ignores later schedules', () => {
    const { clock, due, scheduler } = setup()
    scheduler.schedule('n', 'a', 1, 10)
    scheduler.stop()
    scheduler.schedule('n', 'b', 2, 10)
    expect(clock.pending()).toBe(0)
    clock.tick(100)
    expect(due).toEqual([])
  })
})
