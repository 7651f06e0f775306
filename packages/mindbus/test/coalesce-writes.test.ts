import { describe, expect, it } from 'vitest'
import { coalesceWrites } from '../src/state.js'

/** A socket stand-in that records cork/uncork like net.Socket (nested corks counted). */
function fakeSocket(): {
  writable: boolean
  writableCorked: number
  log: string[]
  cork(): void
  uncork(): void
} {
  return {
    writable: true,
    writableCorked: 0,
    log: [],
    cork() {
      this.writableCorked++
      this.log.push('cork')
    },
    uncork() {
      this.writableCorked--
      this.log.push('uncork')
    },
  }
}

describe('coalesceWrites', () => {
  it('corks the connection socket once per event-loop turn and releases it in the check phase', async () => {
    const socket = fakeSocket()
    const conn = { _socket: socket }
    coalesceWrites(conn)
    coalesceWrites(conn)
    expect(socket.writableCorked).toBe(1)
    await new Promise((resolve) => setImmediate(resolve))
    expect(socket.log).toEqual(['cork', 'uncork'])
    coalesceWrites(conn)
    expect(socket.writableCorked).toBe(1)
    await new Promise((resolve) => setImmediate(resolve))
    expect(socket.writableCorked).toBe(0)
  })

  it('does nothing when the client exposes no writable socket', () => {
    const closed = { ...fakeSocket(), writable: false }
    expect(() => coalesceWrites({})).not.toThrow()
    coalesceWrites({ _socket: closed })
    expect(closed.log).toEqual([])
  })
})
