import { randomUUID } from 'node:crypto'
import type { ServerResponse } from 'node:http'
import type { CloudEvent } from '@core/contracts'
import { createTopicMatcher, type EventBus } from '@core/event-bus'
import type { FastifyReply } from 'fastify'
import { EVENTS_MISSED_EVENT, type EventReplayBuffer, type EventsMissedData } from './sse-replay.js'

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
  /** The hub's recent events; started by the first stream. */
  replay: EventReplayBuffer
  /** The client's `Last-Event-ID` header: resume after that event. */
  lastEventId?: string
  /** CloudEvents `source` of the {@link EVENTS_MISSED_EVENT} event. */
  source: string
}

/**
 * Subscribes to `pattern` and streams every matching CloudEvent as a Server-Sent Event:
 * `event: <type>`, `id: <event id>`, `data: <the CloudEvent as JSON>`, then a blank line.
 * With `accept`, an event whose type it refuses is skipped (a token's scopes filter each event
 * of a wide pattern). A `: heartbeat` comment goes out every `heartbeatMs`. When the client goes away (or the
 * server closes) the subscription is removed and the timer cleared. A slow client applies
 * back-pressure to its own bus subscription only, whose bounded queue drops the oldest events.
 *
 * With `lastEventId` (the `Last-Event-ID` header a reconnecting EventSource sends), the events
 * the hub recorded after that one and that the stream would have carried are sent first, in
 * order, then the live ones; if that id is no longer in the replay buffer (older than its last
 * `replay.size` events, or unknown), one {@link EVENTS_MISSED_EVENT} event says so instead.
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
  // Synchronous from subscribe() to here: no live event can be delivered before the replay.
  const replayed =
    options.lastEventId === undefined ? '' : replayFrames(options, options.lastEventId)
  if (replayed !== '') res.write(replayed)
  options.replay.start()
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

/** The frames that resume a stream after `lastEventId`, or the one that says events were missed. */
function replayFrames(options: EventStreamOptions, lastEventId: string): string {
  const recorded = options.replay.after(lastEventId)
  if (recorded === undefined) {
    const data: EventsMissedData = { lastEventId, replayEvents: options.replay.size }
    return frame({
      specversion: '1.0',
      id: randomUUID(),
      source: options.source,
      type: EVENTS_MISSED_EVENT,
      time: new Date().toISOString(),
      datacontenttype: 'application/json',
      data,
    })
  }
  const matcher = createTopicMatcher<true>({ cacheSize: 0 })
  matcher.add(options.pattern, true)
  let out = ''
  for (const event of recorded) {
    if (matcher.match(event.type).length === 0) continue
    if (options.accept !== undefined && !options.accept(event.type)) continue
    out += frame(event)
  }
  return out
}

/** One SSE frame. Ids are stripped of line breaks, which would end the field. */
function frame(event: CloudEvent): string {
  const id = String(event.id).replace(/[\r\n]/g, '')
  return `event: ${event.type}\nid: ${id}\ndata: ${JSON.stringify(event)}\n\n`
}
