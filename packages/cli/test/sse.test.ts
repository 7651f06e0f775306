import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { parseSse, type SseMessage } from '../src/sse.js'

async function parse(chunks: string[]): Promise<SseMessage[]> {
  async function* source(): AsyncGenerator<string> {
    yield* chunks
  }
  const out: SseMessage[] = []
  for await (const message of parseSse(source())) out.push(message)
  return out
}

const STREAM =
  ': subscribed to demo.#\nretry: 3000\n\n' +
  'event: demo.a\nid: 1\ndata: {"n":1}\n\n' +
  ': heartbeat\n\n' +
  'event: demo.b\r\nid: 2\r\ndata: line one\r\ndata: line two\r\n\r\n' +
  'data:no-space\rid: 3\r\r'

describe('parseSse', () => {
  it('yields events with their type, id and data, skipping comments and retry', async () => {
    expect(await parse([STREAM])).toEqual([
      { event: 'demo.a', id: '1', data: '{"n":1}' },
      { event: 'demo.b', id: '2', data: 'line one\nline two' },
      { event: 'message', id: '3', data: 'no-space' },
    ])
  })

  it('does not dispatch an event without data, nor one cut off before its blank line', async () => {
    expect(await parse(['event: x\n\n', 'data: pending\n'])).toEqual([])
  })

  it('drops a leading byte-order mark', async () => {
    expect(await parse(['\uFEFFdata: a\n\n'])).toEqual([{ event: 'message', id: '', data: 'a' }])
  })

  it('gives the same events however the stream is split into chunks (property)', async () => {
    const whole = await parse([STREAM])
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.integer({ min: 1, max: STREAM.length - 1 })),
        async (cuts) => {
          const points = [0, ...cuts.sort((a, b) => a - b), STREAM.length]
          const chunks = points.slice(1).map((end, i) => STREAM.slice(points[i], end))
          expect(await parse(chunks)).toEqual(whole)
        },
      ),
    )
  })
})
