import { createServer } from 'node:net'
import { describe, expect, it } from 'vitest'
import { CoreError } from '../src/index.js'
import { createFakeClock, expectCoreError, probeTcp } from '../src/testing.js'

describe('expectCoreError', () => {
  it('returns the CoreError of the expected code, thrown or rejected', async () => {
    const thrown = await expectCoreError(() => {
      throw new CoreError('E_CONFLICT', 'Revision 3 is not the current one', {
        details: { key: 'k' },
      })
    }, 'E_CONFLICT')
    expect(thrown.details).toEqual({ key: 'k' })
    const rejected = await expectCoreError(
      Promise.reject(new CoreError('E_TIMEOUT', 'Nothing answered within 10 ms')),
      'E_TIMEOUT',
      { message: /within 10 ms/ },
    )
    expect(rejected.code).toBe('E_TIMEOUT')
  })

  it('fails, saying what came instead, for no error, another code, details or message', async () => {
    await expect(expectCoreError(async () => 1, 'E_TIMEOUT')).rejects.toThrow(
      'Expected a CoreError E_TIMEOUT, got no error',
    )
    const conflict = () => Promise.reject(new CoreError('E_CONFLICT', 'Revision moved meanwhile'))
    await expect(expectCoreError(conflict, 'E_TIMEOUT')).rejects.toThrow(
      'got E_CONFLICT: Revision moved meanwhile',
    )
    await expect(expectCoreError(conflict, 'E_CONFLICT', { message: 'nope' })).rejects.toThrow(
      /does not match nope/,
    )
    await expect(
      expectCoreError(conflict, 'E_CONFLICT', { details: { key: 'k' } }),
    ).rejects.toThrow(/details.key is undefined/)
    await expect(
      expectCoreError(() => Promise.reject(new CoreError('E_CONFLICT', 'no')), 'E_CONFLICT'),
    ).rejects.toThrow(/not an actionable sentence/)
  })
})

describe('probeTcp', () => {
  it('resolves undefined for a listening port and a reason for a closed one', async () => {
    const server = createServer()
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const { port } = server.address() as { port: number }
    expect(await probeTcp(`tcp://127.0.0.1:${port}`)).toBeUndefined()
    await new Promise((resolve) => server.close(resolve))
    expect(await probeTcp(`127.0.0.1:${port}`)).toMatch(/ECONNREFUSED/)
  })
})

describe('fake clock tick and jump', () => {
  it('fires due timers in order synchronously on tick, none on jump, and records delays', () => {
    const clock = createFakeClock({ now: 0 })
    const fired: string[] = []
    clock.setTimeout(() => fired.push(`b@${clock.now()}`), 20)
    clock.setTimeout(() => fired.push(`a@${clock.now()}`), 10)
    clock.jump(15)
    expect(fired).toEqual([])
    clock.tick(0)
    expect(fired).toEqual(['a@15']) // late timers fire at the current time
    clock.tick(10)
    expect(fired).toEqual(['a@15', 'b@20'])
    expect(clock.now()).toBe(25)
    expect(clock.delays).toEqual([20, 10])
    expect(clock.pending()).toBe(0)
  })
})
