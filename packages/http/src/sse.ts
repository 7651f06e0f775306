import type { ServerResponse } from 'node:http'
import type { CloudEvent } from '@core/contracts'
import type { EventBus } from '@core/event-bus'
import type { FastifyReply } from 'fastify'

/** What {@link openEventStream} needs besides the reply. @internal */
export interface EventStreamOptions {
  bus: EventBus
  /** AMQP pattern to subscribe to. */
  pattern: string
  /** Which delivered event types the client may see; absent = all. */
  accept?(type: string): boolean
  heartbeatMs: number
  /** A label for the bus subscription (logs, metrics). */
  name: string
  /** Called once when the stream opens and once when it ends. */
  onChange(delta: 1 | -1): void
  /** Open streams, so that closing the server can end them. */
  streams: Set<() => void>
}

/**
 * Subscribes to `pattern` and streams every matching CloudEvent as a Server-Sent Event:
 * `event: <type>`, `id: <event id>`, `data: <the CloudEvent as JSON>`, then a blank line.
 * With `accept`, an event whose type it refuses is skipped (a token's scopes filter each event
 * of a wide pattern). A `: heartbeat` comment goes out every `heartbeatMs`. When the client goes away (or the
 * server closes) the subscription is removed and the timer cleared. A slow client applies
 * back-pressure to its own bus subscription only, whose bounded queue drops the oldest events.
 *
 * Subscribes before taking over the response, so a malformed pattern throws `E_VALIDATION`
 * while a normal error response can still be sent.
 * @internal
 */
export function openEventStream(reply: FastifyReply, options: EventStreamOptions): void {
  const res: ServerResponse = reply.raw
  let open = true
  const accept = options.accept
  const unsubscribe = options.bus.subscribe(
    options.pattern,
    (event: CloudEvent) => {
      if (!open || (accept !== undefined && !accept(event.type))) return
      if (res.write(frame(event))) return
      return new Promise<void>((resolve) => {
        const done = (): void => {
          res.off('drain', done)
          res.off('close', done)
          resolve()
        }
        res.on('drain', done)
        res.on('close', done)
      })
    },
    { overflow: 'drop-oldest', maxQueue: 1_000, name: options.name },
  )
  reply.hijack()
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  })
  res.write(`: subscribed to ${options.pattern}\nretry: 3000\n\n`)
  const timer = setInterval(() => {
    res.write(': heartbeat\n\n')
  }, options.heartbeatMs)
  timer.unref()
  options.onChange(1)
  const end = (): void => {
    if (!open) return
    open = false
    clearInterval(timer)
    unsubscribe()
    options.streams.delete(end)
    options.onChange(-1)
    if (!res.writableEnded) res.end()
  }
  options.streams.add(end)
  res.once('close', end)
  res.once('error', end)
}

/** One SSE frame. Ids are stripped of line breaks, which would end the field. */
function frame(event: CloudEvent): string {
  const id = String(event.id).replace(/[\r\n]/g, '')
  return `event: ${event.type}\nid: ${id}\ndata: ${JSON.stringify(event)}\n\n`
}
