import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { CoreError, type Logger, rateLimited } from '../src/index.js'

interface Line {
  level: string
  obj: Record<string, unknown>
  msg: string | undefined
}

function recorder(): { logger: Logger; lines: Line[] } {
  const lines: Line[] = []
  const at =
    (level: string) =>
    (a: string | Record<string, unknown>, b?: string): void => {
      lines.push(typeof a === 'string' ? { level, obj: {}, msg: a } : { level, obj: a, msg: b })
    }
  const logger: Logger = {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: () => logger,
  }
  return { logger, lines }
}

// vitest's fake timers drive Date.now() and setTimeout, which the default systemClock uses.
beforeEach(() => {
  vi.useFakeTimers({ now: 1_735_689_600_000 })
})
afterEach(() => {
  vi.useRealTimers()
})

describe('rateLimited', () => {
  it('should write the first burst lines of a key, then one summary when the window ends', () => {
    const { logger, lines } = recorder()
    const limited = rateLimited(logger, { intervalMs: 1_000, burst: 3 })
    for (let i = 0; i < 10_000; i++) limited.warn('call.missing', { i }, `missing ${i}`)
    expect(lines.map((l) => l.msg)).toEqual(['missing 0', 'missing 1', 'missing 2'])
    expect(limited.suppressed).toBe(9_997)

    vi.advanceTimersByTime(999)
    expect(lines).toHaveLength(3)
    vi.advanceTimersByTime(1)
    expect(lines).toHaveLength(4)
    expect(lines[3]).toEqual({
      level: 'warn',
      obj: { key: 'call.missing', suppressed: 9_997, intervalMs: 1_000 },
      msg: 'suppressed 9997 similar log lines (call.missing) in the last 1000 ms',
    })
  })

  it('should start a fresh window for a key after the interval', () => {
    const { logger, lines } = recorder()
    const limited = rateLimited(logger, { intervalMs: 1_000, burst: 1 })
    limited.error('k', {}, 'first')
    limited.error('k', {}, 'dropped')
    vi.advanceTimersByTime(1_000)
    limited.error('k', {}, 'second')
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      ['error', 'first'],
      ['warn', 'suppressed 1 similar log lines (k) in the last 1000 ms'],
      ['error', 'second'],
    ])
  })

  it('should write no summary for a window that suppressed nothing', () => {
    const { logger, lines } = recorder()
    const limited = rateLimited(logger, { intervalMs: 1_000, burst: 2 })
    limited.warn('k', {}, 'a')
    limited.warn('k', {}, 'b')
    vi.advanceTimersByTime(5_000)
    expect(lines.map((l) => l.msg)).toEqual(['a', 'b'])
    expect(vi.getTimerCount()).toBe(0)
  })

  it('should keep separate budgets per key', () => {
    const { logger, lines } = recorder()
    const limited = rateLimited(logger, { intervalMs: 1_000, burst: 1 })
    limited.warn('a', {}, 'a1')
    limited.warn('b', {}, 'b1')
    limited.warn('a', {}, 'a2')
    expect(lines.map((l) => l.msg)).toEqual(['a1', 'b1'])
  })

  it('should fold keys beyond maxKeys into one overflow key', () => {
    const { logger, lines } = recorder()
    const limited = rateLimited(logger, { intervalMs: 1_000, burst: 1, maxKeys: 2 })
    for (let i = 0; i < 100; i++) limited.warn(`key-${i}`, {}, `line ${i}`)
    // key-0, key-1 each write one; key-2… share "(other)", which writes one.
    expect(lines.map((l) => l.msg)).toEqual(['line 0', 'line 1', 'line 2'])
    limited.flush()
    expect(lines.at(-1)?.obj).toEqual({ key: '(other)', suppressed: 97, intervalMs: 1_000 })
  })

  it('should write pending summaries on flush and cancel their timers', () => {
    const { logger, lines } = recorder()
    const limited = rateLimited(logger, { intervalMs: 60_000, burst: 0 })
    limited.warn('k', {}, 'x')
    expect(lines).toHaveLength(0)
    limited.flush()
    expect(lines.map((l) => l.msg)).toEqual([
      'suppressed 1 similar log lines (k) in the last 60000 ms',
    ])
    expect(vi.getTimerCount()).toBe(0)
  })

  it('should refuse bad options with E_VALIDATION', () => {
    const { logger } = recorder()
    for (const options of [{ intervalMs: 0 }, { burst: -1 }, { maxKeys: 1.5 }]) {
      let caught: unknown
      try {
        rateLimited(logger, options)
      } catch (error) {
        caught = error
      }
      expect(CoreError.is(caught, 'E_VALIDATION')).toBe(true)
    }
  })
})
