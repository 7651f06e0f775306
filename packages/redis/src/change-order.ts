import type { Logger, StateChange } from '@core/contracts'
import type { StateBackendListener } from '@core/state-engine'

/**
 * One change waiting to reach the listener: from a write reply of this backend (`own`) or read
 * from the change stream. Stream changes are parsed only when delivered (`read`), so entries
 * this backend wrote itself cost no JSON parse.
 * @internal
 */
interface Pending {
  revision: number
  own: boolean
  /** The revision of the key's change before this one, `0` when unknown (own changes only). */
  prior: number
  change?: StateChange
  read?: () => StateChange | undefined
}

/** The changes of one key that are held back, and its writes in flight. */
interface KeyQueue {
  inFlight: number
  held: Pending[]
}

/** A change of this backend's own write, with the revision of the key's change before it. @internal */
export interface OwnChange {
  change: StateChange
  /** The key's previous revision (the entry the write replaced), `0` when it had none. */
  prior: number
}

/** Options of {@link createChangeOrder}. @internal */
export interface ChangeOrderOptions {
  listener: StateBackendListener
  logger: Logger
  /** How many keys' last delivered revisions are remembered (oldest forgotten first). */
  maxKeys?: number
}

/**
 * Puts the changes of one hub's bus in order: every change once, one key's changes in revision
 * order. Two sources feed it: the replies of this backend's writes (delivered at once when that
 * is safe) and the change stream, read in revision order.
 *
 * An own change of revision `r` is safe to deliver when every earlier change of its key has
 * been delivered, known when either the stream reader has read up to `r - 1`, or the key's
 * last delivered revision is the one the write replaced (`prior`: no change of the key can lie
 * between them). Otherwise it is held until the reader gets there. A stream entry whose
 * revision an own write already reported is skipped; any other stream entry of a key with an
 * own write in flight is held until that write's reply (which may carry an earlier revision)
 * has been handled. A write that fails leaves its stream entry, if it was applied after all,
 * to be delivered from the stream.
 * @internal
 */
export interface ChangeOrder {
  /** An own write of `namespace`/`key` is about to be sent. */
  begin(namespace: string, key: string): void
  /**
   * That write is answered: `changes` in revision order, or `undefined` when it failed (its
   * effect, if any, then comes from the stream).
   */
  end(namespace: string, key: string, changes: readonly OwnChange[] | undefined): void
  /** The reader has found the stream's end: it reads the entries after `revision`. */
  start(revision: number): void
  /**
   * The reader read the entry of `revision` (entries come in revision order).
   * @returns `true` when it was this backend's own change, reported already from the reply.
   */
  streamed(
    revision: number,
    namespace: string,
    key: string,
    read: () => StateChange | undefined,
  ): boolean
  /** Delivers what became safe after a batch of stream entries. */
  settle(): void
  /** The reader's position: the last revision read, `undefined` before {@link ChangeOrder.start}. */
  position(): number | undefined
  /** Changes held back now (for tests and status). */
  held(): number
}

/** @internal */
export function createChangeOrder(options: ChangeOrderOptions): ChangeOrder {
  const { listener, logger } = options
  const maxKeys = options.maxKeys ?? 16_384
  let position: number | undefined
  const queues = new Map<string, KeyQueue>()
  /** Keys whose first held change waits for the reader's position. */
  const blocked = new Set<string>()
  /** Revisions this backend's replies reported whose stream entries are still to be read. */
  const announced = new Set<number>()
  /** Last delivered revision per key, bounded (a Map keeps insertion order: oldest first). */
  const last = new Map<string, number>()
  let heldCount = 0

  const id = (namespace: string, key: string): string => `${namespace}\n${key}`

  const queue = (name: string): KeyQueue => {
    let q = queues.get(name)
    if (q === undefined) {
      q = { inFlight: 0, held: [] }
      queues.set(name, q)
    }
    return q
  }

  const remember = (name: string, revision: number): void => {
    last.delete(name)
    last.set(name, revision)
    if (last.size > maxKeys) last.delete(last.keys().next().value as string)
  }

  const deliver = (name: string, item: Pending): void => {
    remember(name, item.revision)
    const change = item.change ?? item.read?.()
    if (change === undefined) {
      logger.warn(
        { revision: item.revision },
        'redis state: skipped a change stream entry that is not readable',
      )
      return
    }
    try {
      listener(change)
    } catch (error) {
      logger.error({ err: error }, 'redis state: a change listener threw')
    }
  }

  const ready = (name: string, q: KeyQueue, item: Pending): boolean => {
    if (!item.own) return q.inFlight === 0
    if (position !== undefined && item.revision <= position + 1) return true
    return item.prior > 0 && (last.get(name) ?? 0) >= item.prior
  }

  /** Delivers the key's held changes from the first, as far as it is safe. */
  const flush = (name: string, q: KeyQueue): void => {
    while (q.held.length > 0 && ready(name, q, q.held[0] as Pending)) {
      heldCount--
      deliver(name, q.held.shift() as Pending)
    }
    // A held own change waits for the reader's position; a stream change, for the reply.
    if (q.held[0]?.own === true) blocked.add(name)
    else blocked.delete(name)
    if (q.held.length === 0 && q.inFlight === 0) queues.delete(name)
  }

  /** Inserts in revision order (mostly at the end). */
  const hold = (q: KeyQueue, item: Pending): void => {
    let at = q.held.length
    while (at > 0 && (q.held[at - 1] as Pending).revision > item.revision) at--
    q.held.splice(at, 0, item)
    heldCount++
  }

  return {
    begin(namespace, key) {
      queue(id(namespace, key)).inFlight++
    },

    end(namespace, key, changes) {
      const name = id(namespace, key)
      const q = queue(name)
      q.inFlight = Math.max(0, q.inFlight - 1)
      for (const { change, prior } of changes ?? []) {
        const revision = change.revision
        const streamedCopy = q.held.findIndex((item) => item.revision === revision)
        if (streamedCopy >= 0) {
          // The reader got there first and held its copy: keep the reply's (unparsed) change.
          q.held[streamedCopy] = { revision, own: true, prior, change }
          continue
        }
        // Not read from the stream (it would be held: the write was in flight). The reader
        // skips it later, unless it started (or skipped a gap) past it already.
        if (position === undefined || revision > position) announced.add(revision)
        hold(q, { revision, own: true, prior, change })
      }
      flush(name, q)
    },

    start(revision) {
      position = revision
      for (const at of announced) if (at <= revision) announced.delete(at)
      this.settle()
    },

    streamed(revision, namespace, key, read) {
      position = revision
      if (announced.delete(revision)) return true
      const name = id(namespace, key)
      const q = queue(name)
      hold(q, { revision, own: false, prior: 0, read })
      flush(name, q)
      return false
    },

    settle() {
      for (const name of [...blocked]) {
        const q = queues.get(name)
        if (q === undefined) blocked.delete(name)
        else flush(name, q)
      }
    },

    position: () => position,
    held: () => heldCount,
  }
}
