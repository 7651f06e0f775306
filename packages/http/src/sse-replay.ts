import type { CloudEvent } from '@core/contracts'
import type { EventBus } from '@core/event-bus'

/**
 * The `type` of the CloudEvent an SSE stream sends, in place of a replay, when the client's
 * `Last-Event-ID` is not among the events the hub still holds (older than its replay buffer,
 * or never sent by this hub): events may have been missed; resynchronise (re-read state).
 * Its `data` is {@link EventsMissedData}. It is never published on the bus.
 * @public
 */
export const EVENTS_MISSED_EVENT = 'core.http.events_missed'

/** The `data` of an {@link EVENTS_MISSED_EVENT} event. @public */
export interface EventsMissedData {
  /** The `Last-Event-ID` the client sent. */
  lastEventId: string
  /** How many recent events the hub keeps for resuming streams (the `sseReplayEvents` option). */
  replayEvents: number
}

/** Default number of recent events kept for SSE clients that reconnect. @internal */
export const DEFAULT_SSE_REPLAY_EVENTS = 1_000

/**
 * The recent events of the whole bus, oldest first, for SSE clients that reconnect with
 * `Last-Event-ID`. It subscribes to `#` when the first stream opens (`start`) and until `close`.
 * @internal
 */
export interface EventReplayBuffer {
  /** Capacity, events; 0 = nothing kept. */
  readonly size: number
  /** Starts recording (idempotent). */
  start(): void
  /**
   * The events recorded after the one with id `lastEventId`, oldest first; `undefined` when
   * that id is no longer (or was never) held, so the client may have missed events.
   */
  after(lastEventId: string): CloudEvent[] | undefined
  /** Stops recording and forgets everything (idempotent). */
  close(): void
}

/**
 * Creates a bounded ring of the last `size` events delivered on `bus`.
 * @internal
 */
export function createEventReplayBuffer(bus: EventBus, size: number): EventReplayBuffer {
  const ring: Array<CloudEvent | undefined> = new Array(size)
  const seqOf = new Map<string, number>()
  let next = 0 // sequence number of the next event recorded
  let unsubscribe: (() => void) | undefined

  const record = (event: CloudEvent): void => {
    const slot = next % size
    const old = ring[slot]
    if (old !== undefined && seqOf.get(old.id) === next - size) seqOf.delete(old.id)
    ring[slot] = event
    seqOf.set(event.id, next)
    next++
  }

  return {
    size,
    start() {
      if (unsubscribe !== undefined || size === 0) return
      unsubscribe = bus.subscribe('#', record, {
        overflow: 'drop-oldest',
        maxQueue: size,
        name: 'http-sse-replay',
      })
    },
    after(lastEventId) {
      const seq = seqOf.get(lastEventId)
      if (seq === undefined) return undefined
      const out: CloudEvent[] = []
      for (let s = seq + 1; s < next; s++) out.push(ring[s % size] as CloudEvent)
      return out
    },
    close() {
      unsubscribe?.()
      unsubscribe = undefined
      seqOf.clear()
      ring.fill(undefined)
    },
  }
}
