import { connect } from 'node:net'
import { describe, expect, it, vi } from 'vitest'
import { startHub } from '../helpers.js'

describe('issue 8: the request deadline the docs give is the one sockets get', () => {
  it('sets Node requestTimeout, headersTimeout, keepAliveTimeout and the idle timeout together', async () => {
    const hub = await startHub()
    const server = hub.http.app.server
    expect(server.requestTimeout).toBe(30_000)
    expect(server.headersTimeout).toBe(30_000)
    expect(server.keepAliveTimeout).toBe(72_000)
    // Silent sockets outlive every deadline of the adapter (reload 60 s, keep-alive 72 s).
    expect(server.timeout).toBe(77_000)
  })

  it('closes a socket that trickles its headers at requestTimeoutMs, not a check interval later', async () => {
    const hub = await startHub({ requestTimeoutMs: 1_000 })
    const { port } = new URL(hub.url)
    const socket = connect(Number(port), '127.0.0.1')
    let answer = ''
    socket.on('data', (chunk) => {
      answer += chunk.toString()
    })
    const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now())))
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()))
    const opened = Date.now()
    socket.write('GET /health HTTP/1.1\r\nHost: x\r\n')
    // A slow sender: one header byte every 100 ms, never the blank line.
    const drip = setInterval(() => socket.write('X'), 100)
    try {
      // Node used to check deadlines every 30 s: the socket lived up to 60 s past a 30 s deadline.
      await vi.waitFor(() => expect(socket.destroyed || socket.readableEnded).toBe(true), {
        timeout: 3_500,
        interval: 50,
      })
    } finally {
      clearInterval(drip)
      socket.destroy()
    }
    const lifetime = (await closed) - opened
    expect(lifetime).toBeGreaterThanOrEqual(900)
    expect(answer).toMatch(/^HTTP\/1\.1 408/)
  })

  it('leaves an idle keep-alive connection open past requestTimeoutMs, until keepAliveTimeoutMs', async () => {
    const hub = await startHub({ requestTimeoutMs: 500, keepAliveTimeoutMs: 10_000 })
    const { port } = new URL(hub.url)
    const socket = connect(Number(port), '127.0.0.1')
    let answer = ''
    socket.on('data', (chunk) => {
      answer += chunk.toString()
    })
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()))
    const ask = (): void => {
      socket.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n')
    }
    try {
      ask()
      await vi.waitFor(() => expect(answer.match(/HTTP\/1\.1 200/g)?.length).toBe(1))
      // Idle for three request deadlines: a deadline only runs while a request is arriving.
      await new Promise((resolve) => setTimeout(resolve, 1_500))
      ask()
      await vi.waitFor(() => expect(answer.match(/HTTP\/1\.1 200/g)?.length).toBe(2))
    } finally {
      socket.destroy()
    }
  })
})
