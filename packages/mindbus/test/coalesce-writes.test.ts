import { describe, expect, it } from 'vitest'
import { coalesceWrites, connectionReady } from '../src/state.js'

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

  it('keeps a ready connection ready while its own cork is held, not a blocked one', async () => {
    const socket = fakeSocket()
    // rabbitmq-client's `ready`: open and the socket not corked.
    const conn = {
      _socket: socket,
      open: true,
      get ready(): boolean {
        return this.open && socket.writableCorked === 0
      },
    }
    coalesceWrites(conn)
    expect(conn.ready).toBe(false)
    expect(connectionReady(conn)).toBe(true)
    socket.cork() // the broker blocks publishers: the client corks the socket itself
    expect(connectionReady(conn)).toBe(false)
    socket.uncork()
    socket.writable = false // the socket closed in this turn
    expect(connectionReady(conn)).toBe(false)
    socket.writable = true
    await new Promise((resolve) => setImmediate(resolve))
    expect(connectionReady(conn)).toBe(true)
    conn.open = false
    expect(connectionReady(conn)).toBe(false)

    const blocked = fakeSocket()
    blocked.cork()
    const down = { _socket: blocked, ready: false }
    coalesceWrites(down)
    blocked.uncork() // unblocked in the same turn: only this turn's cork is left
    expect(connectionReady(down)).toBe(false)
    await new Promise((resolve) => setImmediate(resolve))
  })
})
