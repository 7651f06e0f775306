/** One dispatched Server-Sent Event. @internal */
export interface SseMessage {
  /** The `event:` field; `message` when absent. */
  event: string
  /** The `data:` lines joined with `\n`. */
  data: string
  /** The last `id:` seen on the stream (empty when none). */
  id: string
}

/**
 * Parses a `text/event-stream` body into events, as the WHATWG HTML "event stream
 * interpretation" does: lines end in CRLF, LF or CR; `:` lines are comments (heartbeats);
 * `field: value` drops one leading space; `data` lines accumulate; a blank line dispatches an
 * event that has data. `retry` is ignored (the CLI does not reconnect).
 *
 * @param chunks - The body as text chunks, split anywhere.
 * @returns The events, in order.
 * @see WHATWG HTML §9.2.6 "Interpreting an event stream"
 * @internal
 */
export async function* parseSse(chunks: AsyncIterable<string>): AsyncGenerator<SseMessage> {
  let buffer = ''
  let event = ''
  let data: string[] = []
  let id = ''
  let first = true
  let pendingCr = false
  for await (let chunk of chunks) {
    if (first) {
      if (chunk.startsWith('\uFEFF')) chunk = chunk.slice(1)
      first = false
    }
    // A CR at the end of the previous chunk already ended a line; skip the LF of its CRLF.
    if (pendingCr && chunk.startsWith('\n')) chunk = chunk.slice(1)
    pendingCr = false
    buffer += chunk
    let start = 0
    for (;;) {
      const match = /\r\n|\r|\n/g
      match.lastIndex = start
      const found = match.exec(buffer)
      if (found === null) break
      if (found[0] === '\r' && found.index === buffer.length - 1) pendingCr = true
      const line = buffer.slice(start, found.index)
      start = found.index + found[0].length
      if (line === '') {
        if (data.length > 0)
          yield { event: event === '' ? 'message' : event, data: data.join('\n'), id }
        event = ''
        data = []
        continue
      }
      if (line.startsWith(':')) continue
      const colon = line.indexOf(':')
      const field = colon < 0 ? line : line.slice(0, colon)
      let value = colon < 0 ? '' : line.slice(colon + 1)
      if (value.startsWith(' ')) value = value.slice(1)
      if (field === 'data') data.push(value)
      else if (field === 'event') event = value
      else if (field === 'id' && !value.includes('\0')) id = value
    }
    buffer = buffer.slice(start)
  }
}
