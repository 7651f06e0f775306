import { getEventListeners } from 'node:events'
import { type Clock, CoreError, silentLogger } from '@core/contracts'
import { createFakeClock } from '@core/contracts/testing'
import fc from 'fast-check'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { type Deadline, DeadlineQueue } from '../src/deadline-queue.js'
import { createServiceRegistry, type ServiceContext } from '../src/index.js'

/** Settles on the next turns of the microtask queue. */
async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve()
}

function outcome(promise: Promise<unknown>): { state: string; value?: unknown; error?: CoreError } {
  const seen: { state: string; value?: unknown; error?: CoreError } = { state: 'pending' }
  promise.then(
    (value) => Object.assign(seen, { state: 'resolved', value }),
    (error: CoreError) => Object.assign(seen, { state: 'rejected', error }),
  )
  return seen
}

const never = (): Promise<never> => new Promise<never>(() => {})

describe('deadline (injected clock)', () => {
  it('should reject with E_TIMEOUT exactly at timeoutMs and abort the handler’s signal with that error', async () => {
    const clock = createFakeClock({ now: 1_700_000_000_000 })
    const services = createServiceRegistry({ clock, logger: silentLogger })
    let context: ServiceContext | undefined
    services.register(
      'lights.slow',
      (_p, ctx) => {
        context = ctx
        void ctx.signal // read before the deadline
        return never()
      },
      { params: {}, timeoutMs: 100 },
    )
    const start = clock.now()
    const seen = outcome(services.call('lights.slow', {}))
    expect(context?.deadlineAt).toBe(start + 100)
    clock.tick(99)
    await flush()
    expect(seen.state).toBe('pending')
    expect(context?.signal.aborted).toBe(false)
    clock.tick(1)
    await flush()
    expect(seen.state).toBe('rejected')
    expect(seen.error?.code).toBe('E_TIMEOUT')
    expect(seen.error?.message).toMatch(
      /^Service "lights\.slow@1\.0\.0" did not answer within 100 ms/,
    )
    expect(seen.error?.details).toEqual({
      service: 'lights.slow',
      version: '1.0.0',
      timeoutMs: 100,
    })
    expect(context?.signal.aborted).toBe(true)
    expect(context?.signal.reason).toBe(seen.error)
  })

  it('should give an already-aborted signal to a handler that reads it only after the deadline', async () => {
    const clock = createFakeClock({ now: 1_700_000_000_000 })
    const services = createServiceRegistry({ clock, logger: silentLogger })
    let context: ServiceContext | undefined
    services.register(
      'a.lazy',
      (_p, ctx) => {
        context = ctx
        return never()
      },
      { params: {}, timeoutMs: 10 },
    )
    const seen = outcome(services.call('a.lazy', {}))
    clock.tick(10)
    await flush()
    expect(seen.error?.code).toBe('E_TIMEOUT')
    expect(context?.signal.aborted).toBe(true)
    expect(CoreError.is(context?.signal.reason, 'E_TIMEOUT')).toBe(true)
  })

  it('should let the caller shorten the service’s deadline but not extend it', async () => {
    const clock = createFakeClock({ now: 1_700_000_000_000 })
    const services = createServiceRegistry({ clock, logger: silentLogger })
    const deadlines: number[] = []
    services.register(
      'a.b',
      (_p, ctx) => {
        deadlines.push(ctx.deadlineAt - clock.now())
        return never()
      },
      { params: {}, timeoutMs: 1000 },
    )
    const short = outcome(services.call('a.b', {}, { timeoutMs: 50 }))
    const long = outcome(services.call('a.b', {}, { timeoutMs: 60_000 }))
    expect(deadlines).toEqual([50, 1000])
    clock.tick(50)
    await flush()
    expect(short.error?.code).toBe('E_TIMEOUT')
    expect(short.error?.message).toMatch(/within 50 ms/)
    expect(long.state).toBe('pending')
    clock.tick(950)
    await flush()
    expect(long.error?.code).toBe('E_TIMEOUT')
  })

  it('should ignore a result that arrives after the deadline', async () => {
    const clock = createFakeClock({ now: 1_700_000_000_000 })
    const services = createServiceRegistry({ clock, logger: silentLogger })
    let release: (v: string) => void = () => {}
    services.register('a.late', () => new Promise<string>((resolve) => (release = resolve)), {
      params: {},
      timeoutMs: 5,
    })
    const seen = outcome(services.call('a.late', {}))
    clock.tick(5)
    release('too late')
    await flush()
    expect(seen.state).toBe('rejected')
    expect(seen.error?.code).toBe('E_TIMEOUT')
  })

  it('should run the deadline while middleware runs, and never call the handler after it', async () => {
    const clock = createFakeClock({ now: 1_700_000_000_000 })
    const services = createServiceRegistry({ clock, logger: silentLogger })
    let called = false
    services.register(
      'a.b',
      () => {
        called = true
      },
      { params: {}, timeoutMs: 20 },
    )
    let go: () => void = () => {}
    let nextResult: Promise<unknown> | undefined
    services.use(async (_ctx, next) => {
      await new Promise<void>((resolve) => (go = resolve))
      nextResult = next()
      return nextResult
    })
    const seen = outcome(services.call('a.b', {}))
    clock.tick(20)
    await flush()
    expect(seen.error?.code).toBe('E_TIMEOUT')
    go()
    await flush()
    expect(called).toBe(false)
    await expect(nextResult).rejects.toMatchObject({ code: 'E_TIMEOUT' })
  })

  it('should keep one clock timer for any number of calls in flight', async () => {
    const clock = createFakeClock({ now: 1_700_000_000_000 })
    const services = createServiceRegistry({ clock, logger: silentLogger })
    services.register('a.b', () => never(), { params: {}, timeoutMs: 1000 })
    const calls = Array.from({ length: 100 }, () => outcome(services.call('a.b', {})))
    expect(clock.pending()).toBe(1)
    clock.tick(1000)
    await flush()
    expect(calls.every((c) => c.error?.code === 'E_TIMEOUT')).toBe(true)
    expect(clock.pending()).toBe(0)
  })

  it('should not arm a timer per call for calls that finish in time', async () => {
    const clock = createFakeClock({ now: 1_700_000_000_000 })
    let armed = 0
    const counting: Clock = {
      now: clock.now,
      setTimeout: (handler, ms) => {
        armed++
        return clock.setTimeout(handler, ms)
      },
      clearTimeout: clock.clearTimeout,
    }
    const services = createServiceRegistry({ clock: counting, logger: silentLogger })
    services.register('a.b', async () => 1, { params: {} })
    for (let i = 0; i < 1000; i++) await services.call('a.b', {})
    expect(armed).toBe(1)
  })

  it('should handle deadlines longer than a Node timer can wait (2^31 - 1 ms)', async () => {
    const clock = createFakeClock({ now: 1_700_000_000_000 })
    const services = createServiceRegistry({ clock, logger: silentLogger })
    services.register('a.b', () => never(), { params: {}, timeoutMs: 3_000_000_000 })
    const seen = outcome(services.call('a.b', {}))
    clock.tick(2_147_483_647)
    await flush()
    expect(seen.state).toBe('pending')
    clock.tick(3_000_000_000 - 2_147_483_647)
    await flush()
    expect(seen.error?.code).toBe('E_TIMEOUT')
  })

  it('should time out each of many concurrent calls at its own deadline, and only those (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            timeoutMs: fc.integer({ min: 1, max: 50 }),
            takesMs: fc.integer({ min: 0, max: 60 }),
          }),
          {
            minLength: 1,
            maxLength: 30,
          },
        ),
        async (plans) => {
          const clock = createFakeClock({ now: 1_700_000_000_000 })
          const services = createServiceRegistry({ clock, logger: silentLogger })
          services.register(
            'a.work',
            (p: { i: number; takesMs: number }) =>
              new Promise((resolve) => clock.setTimeout(() => resolve(p.i), p.takesMs)),
            { params: {}, timeoutMs: 1000 },
          )
          const seen = plans.map((plan, i) =>
            outcome(
              services.call('a.work', { i, takesMs: plan.takesMs }, { timeoutMs: plan.timeoutMs }),
            ),
          )
          for (let t = 0; t <= 60; t++) {
            clock.tick(t === 0 ? 0 : 1)
            await flush()
            plans.forEach((plan, i) => {
              const s = seen[i]!
              // a result timer and the deadline due at the same ms: the earlier-armed wins; both are fine
              if (plan.takesMs === plan.timeoutMs && t >= plan.timeoutMs) return
              if (t < Math.min(plan.takesMs, plan.timeoutMs)) expect(s.state).toBe('pending')
              else if (plan.takesMs < plan.timeoutMs) expect(s.value).toBe(i)
              else expect(s.error?.code).toBe('E_TIMEOUT')
            })
          }
        },
      ),
      { numRuns: 60 },
    )
  })
})

describe('deadline (system clock under fake timers)', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('should time out at timeoutMs with the default system clock', async () => {
    vi.useFakeTimers()
    const services = createServiceRegistry({ logger: silentLogger })
    let signal: AbortSignal | undefined
    services.register(
      'a.b',
      (_p, ctx) => {
        signal = ctx.signal
        return never()
      },
      { params: {}, timeoutMs: 50 },
    )
    const seen = outcome(services.call('a.b', {}))
    await vi.advanceTimersByTimeAsync(49)
    expect(seen.state).toBe('pending')
    await vi.advanceTimersByTimeAsync(1)
    expect(seen.error?.code).toBe('E_TIMEOUT')
    expect(signal?.aborted).toBe(true)
  })

  it('should use the default timeout of 30 s when neither service nor caller sets one', async () => {
    vi.useFakeTimers()
    const services = createServiceRegistry({ logger: silentLogger })
    services.register('a.b', () => never(), { params: {} })
    const seen = outcome(services.call('a.b', {}))
    await vi.advanceTimersByTimeAsync(29_999)
    expect(seen.state).toBe('pending')
    await vi.advanceTimersByTimeAsync(1)
    expect(seen.error?.code).toBe('E_TIMEOUT')
    expect(seen.error?.message).toMatch(/within 30000 ms/)
  })
})

describe('caller cancel', () => {
  it('should reject with E_CANCELLED and abort the handler’s signal when the caller aborts', async () => {
    const services = createServiceRegistry({ logger: silentLogger })
    let signal: AbortSignal | undefined
    services.register(
      'a.b',
      (_p, ctx) => {
        signal = ctx.signal
        return never()
      },
      { params: {} },
    )
    const controller = new AbortController()
    const pending = services.call('a.b', {}, { signal: controller.signal })
    controller.abort(new Error('user left'))
    const err = (await pending.catch((e: unknown) => e)) as CoreError
    expect(err.code).toBe('E_CANCELLED')
    expect(err.message).toBe('Call to "a.b" was cancelled by the caller')
    expect((err.cause as Error).message).toBe('user left')
    expect(signal?.aborted).toBe(true)
    expect(signal?.reason).toBe(err)
  })

  it('should not call the handler when the caller’s signal is already aborted', async () => {
    const services = createServiceRegistry({ logger: silentLogger })
    let called = false
    services.register(
      'a.b',
      () => {
        called = true
      },
      { params: {} },
    )
    const err = (await services
      .call('a.b', {}, { signal: AbortSignal.abort() })
      .catch((e: unknown) => e)) as CoreError
    expect(err.code).toBe('E_CANCELLED')
    expect(called).toBe(false)
  })

  it('should stop listening to the caller’s signal once the call has settled', async () => {
    const services = createServiceRegistry({ logger: silentLogger })
    services.register('a.b', async () => 1, { params: {} })
    const controller = new AbortController()
    await services.call('a.b', {}, { signal: controller.signal })
    await services.call('a.b', {}, { signal: controller.signal })
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0)
    controller.abort()
  })

  it('should stop listening to the caller’s signal after a timeout too', async () => {
    const clock = createFakeClock({ now: 1_700_000_000_000 })
    const services = createServiceRegistry({ clock, logger: silentLogger })
    services.register('a.b', () => never(), { params: {}, timeoutMs: 5 })
    const controller = new AbortController()
    const seen = outcome(services.call('a.b', {}, { signal: controller.signal }))
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1)
    clock.tick(5)
    await flush()
    expect(seen.error?.code).toBe('E_TIMEOUT')
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0)
  })
})

describe('DeadlineQueue', () => {
  function item(timeoutMs: number, expired: number[], id: number): Deadline {
    return {
      timeoutMs,
      due: Number.NaN,
      heapIndex: -1,
      expire: () => expired.push(id),
    }
  }

  it('should expire exactly the items due, earliest first, whatever was removed (property against a model)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.record({
              op: fc.constant('add' as const),
              timeoutMs: fc.integer({ min: 1, max: 100 }),
            }),
            fc.record({ op: fc.constant('remove' as const), pick: fc.nat() }),
            fc.record({ op: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 40 }) }),
          ),
          { maxLength: 200 },
        ),
        (ops) => {
          const clock = createFakeClock({ now: 0 })
          const queue = new DeadlineQueue(clock, false)
          const expired: number[] = []
          const live = new Map<number, { item: Deadline; due: number }>()
          let id = 0
          for (const op of ops) {
            if (op.op === 'add') {
              const it = item(op.timeoutMs, expired, id)
              queue.add(it)
              live.set(id, { item: it, due: clock.now() + op.timeoutMs })
              id++
            } else if (op.op === 'remove') {
              const keys = [...live.keys()]
              if (keys.length === 0) continue
              const key = keys[op.pick % keys.length] as number
              queue.remove(live.get(key)!.item)
              live.delete(key)
            } else {
              const before = expired.length
              clock.tick(op.ms)
              const due = [...live.entries()]
                .filter(([, v]) => v.due <= clock.now())
                .sort((a, b) => a[1].due - b[1].due || a[0] - b[0])
              const got = expired.slice(before)
              expect([...got].sort((a, b) => a - b)).toEqual(
                due.map(([k]) => k).sort((a, b) => a - b),
              )
              // earliest deadline first
              const dues = got.map((k) => live.get(k)!.due)
              expect(dues).toEqual([...dues].sort((a, b) => a - b))
              for (const k of got) live.delete(k)
            }
            expect(queue.size).toBe(live.size)
          }
        },
      ),
      { numRuns: 200 },
    )
  })

  it('should stamp a batch with one clock reading, and never make a deadline early', async () => {
    const clock = createFakeClock({ now: 0 })
    let readings = 0
    const counting: Clock = {
      ...clock,
      now: () => {
        readings++
        return clock.now()
      },
    }
    const queue = new DeadlineQueue(counting, true)
    const expired: number[] = []
    const items = Array.from({ length: 1000 }, (_, i) => item(100, expired, i))
    for (const it of items) queue.add(it)
    expect(readings).toBeLessThanOrEqual(Math.ceil(1000 / 64) * 2)
    // time passes before the rest of the batch is stamped: the stamp is later, never earlier
    clock.tick(30)
    await new Promise((resolve) => setImmediate(resolve))
    expect(items.every((it) => it.due >= 100)).toBe(true)
    expect(items.at(-1)?.due).toBe(130)
  })

  it('should stamp an open batch when a member’s deadline is read, and skip settled members', () => {
    const clock = createFakeClock({ now: 0 })
    const queue = new DeadlineQueue(clock, true)
    const expired: number[] = []
    const a = item(10, expired, 1)
    const b = item(20, expired, 2)
    queue.add(a)
    queue.add(b)
    queue.remove(a)
    clock.tick(5)
    queue.settleDue(b)
    expect(b.due).toBe(25)
    queue.settleDue(a) // settled before any stamp: stamped on demand
    expect(a.due).toBe(15)
    clock.tick(20)
    expect(expired).toEqual([2])
  })
})
