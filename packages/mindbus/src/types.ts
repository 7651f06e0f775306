import type { Logger } from '@core/contracts'
import type { EventBus } from '@core/event-bus'
import type { RemoteTransport, ServiceRegistry } from '@core/service-registry'
import type { ReplayStore, SigningKey } from '@core/signing'
import type { Registry } from 'prom-client'

/**
 * A Kubernetes label selector as the node registry takes it: either the string syntax
 * (`room=kitchen,tier in (a,b)`) or `{ matchLabels, matchExpressions }`. MindBus hands it to
 * {@link NodeDirectory.findNodes} unchanged.
 * @see Kubernetes "Labels and Selectors"
 * @public
 */
export type LabelSelectorLike =
  | string
  | {
      matchLabels?: Record<string, string>
      matchExpressions?: ReadonlyArray<{ key: string; operator: string; values?: string[] }>
    }

/**
 * The part of a node registry entry MindBus reads: the node's id, its passport's uid, name and
 * labels, its roles and the services it lists (`name`, exact semver `version`). An entry of
 * `@core/node-registry` satisfies it as is.
 * @public
 */
export interface NodeEntryLike {
  readonly nodeId: string
  readonly passport: {
    readonly metadata: {
      readonly uid: string
      readonly name: string
      readonly labels?: Readonly<Record<string, string>>
    }
    readonly spec: {
      readonly roles?: readonly string[]
      readonly capabilities?: {
        readonly services?: ReadonlyArray<{ readonly name: string; readonly version: string }>
      }
    }
  }
}

/**
 * Who serves what: the node registry as MindBus routing uses it. `findNodes` answers the nodes
 * matching the query (`onlyHealthy: true` = ALIVE only); the node registry of
 * `@core/node-registry` satisfies this interface structurally.
 * @public
 */
export interface NodeDirectory {
  findNodes(query: {
    kind?: string
    selector?: LabelSelectorLike
    onlyHealthy?: boolean
  }): Promise<readonly NodeEntryLike[]> | readonly NodeEntryLike[]
}

/**
 * How a remote call is routed, read from the call's `meta.route` (the service registry's
 * `CallOptions.meta`); removed before the meta leaves the node.
 *
 * - `node`: the uid (or node id) of the node that must serve the call;
 * - `selector`: only nodes whose labels match it;
 * - `dispatch: 'any'`: publish to `cmd.<namespace>.any` and let the broker pick the node.
 * @public
 */
export interface CallRoute {
  node?: string
  selector?: LabelSelectorLike
  dispatch?: 'direct' | 'any'
}

/** A control signal's scope: the last word of `ctl.<target>.<scope>`. @public */
export type ControlScope = 'stop' | 'pause' | 'resume' | 'shutdown' | 'config' | 'cancel'

/**
 * A control signal as received: its target (`all`, a role or a node id), scope, optional data,
 * and the uid of the node that sent it.
 * @public
 */
export interface ControlSignal {
  readonly target: string
  readonly scope: ControlScope
  readonly data: unknown
  readonly from: string
}

/** Called for each control signal of its scope; may return a promise (awaited before the ack). @public */
export type ControlHandler = (signal: ControlSignal) => void | Promise<void>

/** Exchange and queue names; the defaults are those of the MindBus spec. @public */
export interface MindBusTopology {
  /** Topic exchange of commands, events and control. @defaultValue 'mindbus.main' */
  exchange?: string
  /** Dead-letter exchange. @defaultValue 'mindbus.dlx' */
  deadLetterExchange?: string
  /** Queue of dead-lettered messages. @defaultValue 'mindbus.dead' */
  deadLetterQueue?: string
  /** Prefix of the per-node, per-namespace and event queues. @defaultValue 'mindbus' */
  queuePrefix?: string
}

/**
 * Who sent a command or an event, as the receiving node sees it: `node`, the envelope's `source`
 * (the sending node's uid, as it declares itself), and `user`, the AMQP `user_id` RabbitMQ checked
 * against the sender's login (absent when the sender did not set it).
 * @public
 */
export interface MindBusCaller {
  readonly node: string
  readonly user?: string
}

/**
 * What {@link MindBusAuthorize} is asked: `services.call` of `<namespace>.<action>` for a
 * command, `events.publish` of its type for an imported event, `control.<scope>` of its target
 * (`all`, a role or a node id) for a control signal (`stop`, `pause`, `resume`, `shutdown`,
 * `config`; a `cancel` is not asked: it is honoured only from the sender of the command it
 * names).
 * @public
 */
export type MindBusAction =
  | 'services.call'
  | 'events.publish'
  | `control.${Exclude<ControlScope, 'cancel'>}`

/**
 * The receive-side check of {@link CreateMindBusOptions.authorize}: returns to let a command,
 * an imported event or a control signal through (see {@link MindBusAction}), throws (a
 * `CoreError`, usually `E_FORBIDDEN`) to refuse it. Synchronous: it runs for every message.
 * @public
 */
export type MindBusAuthorize = (
  caller: MindBusCaller,
  request: { action: MindBusAction; resource: string },
) => void

/** Options of {@link createMindBus}. @public */
export interface CreateMindBusOptions {
  /** AMQP 0-9-1 URL, e.g. `amqp://guest:guest@127.0.0.1:5672`. */
  url: string
  /** This node's id (routing key word and queue name part): letters, digits, `_`, `-`. */
  nodeId: string
  /** This node's uid (CloudEvents `source`). @defaultValue nodeId */
  uid?: string
  /** This node's roles: it also receives `ctl.<role>.*`. @defaultValue [] */
  roles?: readonly string[]
  /** Who serves what (the node registry). */
  directory: NodeDirectory
  /** The local event bus, for event export and import. @defaultValue none: no events bridged */
  bus?: EventBus
  /** Local event patterns published to `evt.<type>`. @defaultValue [] */
  exportEvents?: readonly string[]
  /** Patterns bound on this node's event queue (as `evt.<pattern>`) and published locally. @defaultValue [] */
  importEvents?: readonly string[]
  /**
   * Namespaces this node serves (bound as `cmd.<ns>.<nodeId>` and `cmd.<ns>.any`), a fixed
   * list. When left out, the node serves the namespaces of `services.list()`: those at start,
   * then kept in step by {@link MindBus.refreshNamespaces}, which runs by itself on every
   * `core.plugin.#` event of `bus` (the kernel publishes one on each plugin transition).
   * @defaultValue the namespaces of `services.list()`, followed as they change
   */
  namespaces?: readonly string[]
  /** Service names (or whole namespaces, `ns.*`) sent to `cmd.<ns>.any` by default. @defaultValue [] */
  dispatchAny?: readonly string[]
  /** `x-max-priority` of the command queues; 0 = no priority queue. @defaultValue 255 (the spec's) */
  maxPriority?: number
  /**
   * Publish commands persistent (AMQP `delivery_mode` 2, the spec's). `false` sends them
   * transient (`delivery_mode` 1): still confirmed and answered, but RabbitMQ then confirms
   * without writing them to disk first. Measured (`pnpm bench mindbus`, RabbitMQ 3.10 classic
   * queues): a confirmed persistent command costs ~3–4× the round trip of a transient one at
   * concurrency 1, because the queue syncs to disk before each confirm. A transient command is
   * lost if the broker restarts before it is delivered; its caller then gets `E_UNAVAILABLE` or
   * `E_TIMEOUT` anyway (its direct reply-to channel is gone with the restart).
   * @defaultValue true
   */
  persistentCommands?: boolean
  /** Consumer channels (prefetch 1 each) on this node's command queue. @defaultValue 16 */
  consumerChannels?: number
  /** Consumer channels (prefetch 1 each) on each shared `mindbus.cmd.<ns>` queue. @defaultValue 4 */
  sharedConsumerChannels?: number
  /** Cap of a command's `expiration`, in milliseconds. @defaultValue 3_600_000 (1 h) */
  maxExpirationMs?: number
  /** How long handled command ids are kept to suppress duplicates, in milliseconds. @defaultValue 600_000 */
  dedupWindowMs?: number
  /**
   * How many bytes of results (as sent: the result envelope's JSON) are kept to answer
   * duplicates within `dedupWindowMs`, the oldest forgotten first; at most 100,000 results
   * either way. A duplicate whose result is no longer held is not run again: it is answered
   * with `E_CONFLICT`. 0 keeps no results. An integer < 0 throws `E_VALIDATION`.
   * @defaultValue 33_554_432 (32 MiB)
   */
  dedupResultBytes?: number
  /** AMQP heartbeat, in seconds. @defaultValue 30 */
  heartbeatS?: number
  /** Names of exchanges and queues. */
  topology?: MindBusTopology
  /**
   * Signed messages: with keys, every command, result, event and control signal is signed on
   * send and verified on receive (see {@link MindBusSigningOptions}). @defaultValue none: unsigned
   */
  signing?: MindBusSigningOptions
  /** @defaultValue a stderr logger (warn+) */
  logger?: Logger
  /**
   * A prom-client registry (e.g. the hub's `GET /metrics` one) to register this node's metrics
   * on; see {@link MindBus.registerMetrics}. @defaultValue none: no metrics registered
   */
  metrics?: Registry
  /**
   * Checks each command, each imported event and each control signal before it is served,
   * published locally or acted on (the hub applies its operator policy here). A refused command
   * is answered with the error (and counted in `served` under its code); a refused event is
   * dropped (counted in `eventsRefused`); a refused control signal is dropped before any
   * handler sees it (counted in `controlRefused`). Whatever the hook, a `cancel` aborts
   * only a command sent by the same node (`source`) and broker user (`user_id`).
   * @defaultValue none: every command, event and control signal the broker delivers is taken
   */
  authorize?: MindBusAuthorize
}

/**
 * Signing of MindBus messages with `@core/signing`: HMAC-SHA256 or Ed25519 over the RFC 8785
 * canonical CloudEvent, carried as the extension attributes `sigalg`, `sigkid`, `sig`.
 *
 * On receive a message must carry a valid signature by a known key whose `owner` (when the
 * key names one) is the AMQP `user_id` RabbitMQ vouched for, a `time` within ±`windowMs`, and a
 * `(source, id)` pair not seen within the window. A refused command is answered with an error
 * result (`E_FORBIDDEN`, or `E_VALIDATION` for an expired, future-dated or malformed one, with
 * `details.reason`) when it has a `reply_to`, else rejected to the dead-letter queue; a refused
 * event or control signal goes to the dead-letter queue; a refused result fails its call.
 * Refusals are counted by reason (`core_mindbus_signature_refused_total{reason}`) and logged
 * rate-limited.
 * @public
 */
export interface MindBusSigningOptions {
  /** Every key a message may be signed with: two during a rotation. */
  keys: readonly SigningKey[]
  /** The key this node signs with (it needs its secret, or its Ed25519 private key). */
  keyId: string
  /** How far a message's `time` may be from now, ms, either way. @defaultValue 300_000 */
  windowMs?: number
  /**
   * Where `(source, id)` pairs are remembered. Give a store shared by the hubs
   * (`createRedisReplayStore`) so that a command replayed to another hub is caught.
   * @defaultValue an in-memory store (this node only)
   */
  replay?: ReplayStore
  /**
   * Refuse unsigned messages. `false` accepts unsigned ones (signed ones are still verified):
   * only while rolling signing out to a running cluster. @defaultValue true
   */
  required?: boolean
  /** `false` turns signing off although keys are given. @defaultValue true */
  enabled?: boolean
}

/**
 * Counters since start: calls sent and served by outcome (`ok` or the CoreError code),
 * round trips (count, total and max milliseconds), commands dropped as expired,
 * duplicates suppressed, messages dead-lettered, reconnects, events exported, imported and
 * refused, control signals received and refused, signed messages accepted and refused (by
 * reason).
 * @public
 */
export interface MindBusStats {
  sent: Record<string, number>
  served: Record<string, number>
  roundTrip: { count: number; totalMs: number; maxMs: number }
  droppedExpired: number
  duplicates: number
  deadLettered: number
  reconnects: number
  eventsExported: number
  eventsImported: number
  /** Imported events the `authorize` hook refused (dropped). */
  eventsRefused: number
  controlReceived: number
  /** Control signals the `authorize` hook (the operator policy) refused (dropped). */
  controlRefused: number
  /** Signed messages accepted. */
  signatureVerified: number
  /** Messages refused by the signature check, by reason (`bad-signature`, `replayed`, …). */
  signatureRefused: Record<string, number>
}

/**
 * A started MindBus node: the remote transport for the service registry, control signals, the
 * event bridge, health and counters. Made by {@link createMindBus}.
 * @public
 */
export interface MindBus {
  /** The {@link RemoteTransport} to give the service registry (`createServiceRegistry({ remote })`). */
  readonly transport: RemoteTransport
  /**
   * Declares the topology, starts the consumers and the event bridge; resolves once consuming.
   * @param services - The local service registry (made with `remote: mindbus.transport`): it
   *   serves the commands received.
   * @throws {@link @core/contracts!CoreError} `E_UNAVAILABLE` when the broker cannot be reached within 10 s.
   */
  start(services: ServiceRegistry): Promise<void>
  /**
   * Publishes a control signal on `ctl.<target>.<scope>` (priority 255, persistent, confirmed).
   * @param target - `all`, a role or a node id.
   * @throws {@link @core/contracts!CoreError} `E_VALIDATION` for a bad target or scope; `E_UNAVAILABLE` when disconnected.
   */
  control(target: string, scope: ControlScope, data?: unknown): Promise<void>
  /** Adds a handler of received control signals of `scope`; returns its undo. */
  onControl(scope: ControlScope, handler: ControlHandler): () => void
  /**
   * Brings the served namespaces in step with the service registry given to
   * {@link MindBus.start}: binds `cmd.<ns>.<nodeId>` and starts consuming `mindbus.cmd.<ns>`
   * (`cmd.<ns>.any`) for each namespace that now has a service; unbinds and stops consuming
   * those that have none left (the shared queue stays for the other nodes serving it).
   * Idempotent; calls run one at a time; resolves when the broker has confirmed the new
   * bindings, so a passport advertised after it is reachable. The topology re-declared after
   * a reconnect holds the namespaces served then. Runs by itself on `core.plugin.#` events of
   * `bus`; call it after registering services outside a plugin. Does nothing before `start`,
   * after `close`, or when `namespaces` was given (a fixed list).
   * A broker error is logged (the next reconnect re-declares), never thrown.
   */
  refreshNamespaces(): Promise<void>
  /** The namespaces whose commands this node consumes now, sorted. */
  readonly namespaces: readonly string[]
  /** True while command consumers are paused (`ctl.*.pause`). */
  readonly paused: boolean
  /** `healthy` when connected, `degraded` while (re)connecting. */
  health(): 'healthy' | 'degraded'
  /** A copy of the counters. */
  stats(): MindBusStats
  /**
   * Messages waiting in this node's queues (node commands, control, and events when it imports
   * any), by queue name, read with a passive declare; a queue not declared (yet) is left out.
   * @throws {@link @core/contracts!CoreError} `E_UNAVAILABLE` when the broker connection is down.
   */
  queueDepths(): Promise<Record<string, number>>
  /**
   * Registers this node's Prometheus metrics on `registry` (prom-client; never the global
   * registry). Calling it again with the same registry does nothing. Metrics (OpenMetrics
   * names; counters read from {@link MindBus.stats} at scrape time):
   *
   * - `core_mindbus_calls_sent_total{outcome}` / `core_mindbus_calls_served_total{outcome}`:
   *   remote calls sent and commands served, by outcome (`ok` or the CoreError code);
   * - `core_mindbus_call_duration_seconds`: histogram of round trips of calls sent, seconds;
   * - `core_mindbus_dropped_expired_total`, `core_mindbus_dead_lettered_total`,
   *   `core_mindbus_duplicates_total`, `core_mindbus_reconnects_total`,
   *   `core_mindbus_events_exported_total`, `core_mindbus_events_imported_total`,
   *   `core_mindbus_events_refused_total`,
   *   `core_mindbus_control_received_total`, `core_mindbus_control_refused_total`;
   * - `core_mindbus_signature_verified_total` and
   *   `core_mindbus_signature_refused_total{reason}`: signed messages accepted, and messages
   *   refused by the signature check (see {@link MindBusSigningOptions});
   * - `core_mindbus_connected`: 1 while connected, else 0;
   * - `core_mindbus_queue_messages{queue}`: messages waiting in this node's queues, read at
   *   scrape time with a passive declare (at most 2 s; left out while disconnected).
   *
   * @see Prometheus "Metric and label naming"; OpenMetrics 1.0
   * @example
   * ```ts
   * const registry = new Registry()
   * mindbus.registerMetrics(registry)
   * const text = await registry.metrics() // Prometheus text exposition format
   * ```
   */
  registerMetrics(registry: Registry): void
  /** Stops consuming, waits for running handlers, closes the connection. Idempotent. */
  close(): Promise<void>
}
