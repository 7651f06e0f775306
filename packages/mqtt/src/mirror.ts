import {
  type CloudEvent,
  type Logger,
  MESSAGE_EVENT_PREFIX,
  type RateLimitedLogger,
  type StateChange,
  type StateEntry,
  type Undo,
  wordToLevel,
} from '@core/contracts'
import { createTopicMatcher } from '@core/event-bus'
import type { Kernel } from '@core/kernel'
import type { Signer } from '@core/signing'
import type { SendOptions } from './connection.js'

/** What {@link startMirror} needs. @internal */
export interface MirrorDeps {
  kernel: Kernel
  prefix: string
  /** Bus patterns forwarded to `<prefix>/events/…`. */
  events: readonly string[]
  /** Patterns over `<namespace>.<key>` mirrored to `<prefix>/state/…`; empty = none. */
  state: readonly string[]
  /** Sends one message if connected (else counts it dropped). */
  send: (topic: string, payload: string, options: SendOptions) => void
  logger: Logger
  /** The bridge's rate-limited warnings. */
  limited: RateLimitedLogger
  /** Signs the events forwarded (so subscribers can verify them); `undefined` = unsigned. */
  signer: Signer | undefined
}

/** The outbound half of the bridge: events and state on MQTT. @internal */
export interface Mirror {
  /** Re-publishes every mirrored state key (and clears deleted ones): run on each CONNACK. */
  resync(): Promise<void>
  close(): void
}

const STATE_QOS = { qos: 1, retain: true } as const
const EVENT_QOS = { qos: 0, retain: false } as const
/** The "revision" recorded for a key whose retained message was cleared. */
const CLEARED = 0

/**
 * Forwards chosen bus events to `<prefix>/events/<levels>` (the CloudEvent as JSON, QoS 0, not
 * retained) and mirrors state to `<prefix>/state/<namespace>/<key levels>` (the `StateEntry`
 * as JSON, QoS 1, retained; an empty retained payload when the key is deleted or expires).
 * Words become levels by reversing the percent-encoding where it is canonical
 * (`living%20room` → `living room`).
 *
 * A `state.<namespace>.<key…>` event (published by the kernel alone) carries the whole new
 * entry (`value`, `revision`, `updatedAt`, `expiresAt`), which is sent as it is; namespace and
 * key come from the event type, never from its data. Only a change that lacks `updatedAt` (one
 * a shared backend relayed without it) makes the mirror read the key with `kernel.state.get`.
 *
 * Overlapping patterns forward an event once: pattern `i` skips what an earlier pattern matches.
 * Each state key's messages go out in revision order, and a resync never publishes an older
 * revision than one already sent.
 * @internal
 */
export function startMirror(deps: MirrorDeps): Mirror {
  const { kernel, prefix, send, logger: log, limited } = deps
  const undos: Undo[] = []
  /** `<ns>\0<key>` → the last revision sent (a value or a clear). */
  const sent = new Map<string, number>()
  const namespaces = new Set<string>()
  const stateMatcher = createTopicMatcher<true>()

  const levels = (words: string): string => words.split('.').map(levelOf).join('/')
  const stateTopic = (ns: string, key: string): string =>
    `${prefix}/state/${levelOf(ns)}/${levels(key)}`

  const subscribeOnce = <T>(
    patterns: readonly string[],
    toBus: (p: string) => string,
    handler: (event: CloudEvent<T>) => void | Promise<void>,
  ): void => {
    patterns.forEach((pattern, i) => {
      const before = i === 0 ? undefined : createTopicMatcher<true>()
      for (const p of patterns.slice(0, i)) before?.add(toBus(p), true)
      const guarded = (event: CloudEvent<T>): void | Promise<void> => {
        if (before !== undefined && before.match(event.type).length > 0) return
        return handler(event)
      }
      undos.push(kernel.bus.subscribe<T>(toBus(pattern), guarded, { name: 'mqtt-bridge' }))
    })
  }

  subscribeOnce<unknown>(
    deps.events,
    (p) => p,
    (event) => {
      if (event.type.startsWith(`${MESSAGE_EVENT_PREFIX}.`)) return
      let text: string
      try {
        text = JSON.stringify(deps.signer === undefined ? event : deps.signer.sign(event))
      } catch (error) {
        // Data without a canonical JSON form cannot be signed: not forwarded.
        limited.warn('mqtt.event.unsigned', { err: error, type: event.type }, 'event not signed')
        return
      }
      send(`${prefix}/events/${levels(event.type)}`, text, EVENT_QOS)
    },
  )

  /**
   * Brings one key's retained message in line with `entry` (`undefined`: the key is gone, as of
   * revision `removedAt` when known). The key comes from the event type
   * (`state.<namespace>.<key…>`), never from the event's data. Never goes back to an older
   * revision than one already sent (a resync may have sent a newer one).
   */
  const mirrorEntry = (
    ns: string,
    key: string,
    entry: StateEntry | undefined,
    removedAt = Number.POSITIVE_INFINITY,
  ): void => {
    const id = `${ns}\u0000${key}`
    if (entry === undefined) {
      const last = sent.get(id)
      if (last === CLEARED || (last !== undefined && last > removedAt)) return
      sent.set(id, CLEARED)
      send(stateTopic(ns, key), '', STATE_QOS)
      return
    }
    if ((sent.get(id) ?? CLEARED) >= entry.revision) return
    sent.set(id, entry.revision)
    send(stateTopic(ns, key), JSON.stringify(entry), STATE_QOS)
  }

  for (const p of deps.state) stateMatcher.add(p, true)
  subscribeOnce<StateChange | undefined>(
    deps.state,
    (p) => `state.${p}`,
    async (event) => {
      const target = stateKeyOf(event.type)
      if (target === undefined) return
      namespaces.add(target.namespace)
      const change = event.data
      if (change?.reason === 'delete' || change?.reason === 'expired') {
        mirrorEntry(target.namespace, target.key, undefined, change.revision)
        return
      }
      const entry = entryOf(change)
      if (entry !== undefined) {
        mirrorEntry(target.namespace, target.key, entry)
        return
      }
      await kernel.state.get(target.namespace, target.key).then(
        (read) => mirrorEntry(target.namespace, target.key, read),
        (error: unknown) => {
          limited.warn(
            'mqtt.state-mirror.failed',
            { err: error, namespace: target.namespace, key: target.key },
            'state mirror failed',
          )
        },
      )
    },
  )

  return {
    resync: async () => {
      if (deps.state.length === 0) return
      for (const plugin of await kernel.plugins.list()) namespaces.add(plugin.name)
      const live = new Set<string>()
      for (const ns of namespaces) {
        let items: Awaited<ReturnType<Kernel['state']['list']>>
        try {
          items = await kernel.state.list(ns)
        } catch (error) {
          log.debug({ err: error, namespace: ns }, 'state resync skipped a namespace')
          continue
        }
        for (const item of items) {
          if (stateMatcher.match(`${ns}.${item.key}`).length === 0) continue
          const id = `${ns}\u0000${item.key}`
          live.add(id)
          if ((sent.get(id) ?? CLEARED) > item.revision) continue
          const { key, ...entry } = item
          sent.set(id, item.revision)
          send(stateTopic(ns, key), JSON.stringify(entry), STATE_QOS)
        }
      }
      // Keys deleted while the link was down (or cleared before): clear them once more, forget them.
      for (const id of [...sent.keys()]) {
        if (live.has(id)) continue
        const [ns, key] = id.split('\u0000') as [string, string]
        send(stateTopic(ns, key), '', STATE_QOS)
        sent.delete(id)
      }
    },
    close: () => {
      for (const undo of undos.splice(0)) undo()
    },
  }
}

/**
 * The new entry a `set` change holds; `undefined` when the change does not hold it all (no
 * `updatedAt`: relayed by a shared backend without it), so the key must be read.
 */
function entryOf(change: StateChange | undefined): StateEntry | undefined {
  if (change?.reason !== 'set' || change.updatedAt === undefined) return undefined
  const entry: StateEntry = {
    value: change.value,
    revision: change.revision,
    updatedAt: change.updatedAt,
  }
  if (change.expiresAt !== undefined) entry.expiresAt = change.expiresAt
  return entry
}

/**
 * `{ namespace, key }` of a `state.<namespace>.<key…>` event type; `undefined` for a type with
 * no key (the kernel never publishes one). @internal
 */
export function stateKeyOf(type: string): { namespace: string; key: string } | undefined {
  const first = type.indexOf('.')
  const second = type.indexOf('.', first + 1)
  if (first < 0 || second < 0 || second === type.length - 1) return undefined
  return { namespace: type.slice(first + 1, second), key: type.slice(second + 1) }
}

/**
 * The MQTT level an event or state-key word stands for when it is canonical
 * (`living%20room` → `living room`), else the word itself, so that the topic built from it is
 * always valid. @internal
 */
export function levelOf(word: string): string {
  try {
    return wordToLevel(word)
  } catch {
    return word
  }
}
