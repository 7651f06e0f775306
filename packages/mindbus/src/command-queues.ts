import type { AsyncMessage, Connection, Consumer, ConsumerStatus } from 'rabbitmq-client'
import { type NodeState, queueArguments } from './state.js'

/** A `queue.bind` of the node queue (the shape `rabbitmq-client` declares). */
interface QueueBinding {
  exchange: string
  queue: string
  routingKey: string
}

/** The function that handles one command delivery (the command server's). */
export type CommandHandler = (
  msg: AsyncMessage,
  reply: (body: unknown, envelope?: Record<string, unknown>) => Promise<void>,
) => Promise<ConsumerStatus>

/**
 * The command queues of one node and their consumers, kept in step with the namespaces the
 * node serves:
 * - the node queue `<prefix>.node.<nodeId>` (`consumerChannels` consumers of prefetch 1) bound
 *   to `cmd.<ns>.<nodeId>` for each served namespace;
 * - per served namespace the shared queue `<prefix>.cmd.<ns>` bound to `cmd.<ns>.any`
 *   (`sharedConsumerChannels` consumers of prefetch 1).
 *
 * {@link CommandQueues.update} binds the namespaces that appeared and unbinds those that went,
 * one update at a time, idempotently. The node consumers hold the binding list by reference,
 * so when `rabbitmq-client` re-declares their queue after a reconnect (or after the queue was
 * deleted) it binds the namespaces served then, not those of the start. An unbind that fails
 * (the connection is down) is tried again when the node consumers are ready again. A
 * namespace that goes keeps its shared queue (other nodes may serve it; commands wait there).
 */
export class CommandQueues {
  private readonly nodeConsumers: Consumer[] = []
  private readonly shared = new Map<string, Consumer[]>()
  /** The node queue's bindings: the node consumers' `queueBindings` (same array). */
  private readonly bindings: QueueBinding[] = []
  /** Routing keys unbound locally whose `queue.unbind` has not reached the broker yet. */
  private readonly unbindLater = new Set<string>()
  private paused = false
  private closed = false
  /** The consumers' closing after a pause; `resume` waits for it before starting them again. */
  private closing: Promise<unknown> = Promise.resolve()
  private updating: Promise<void> = Promise.resolve()
  private onClosed: () => void = () => undefined
  /** Settles on {@link CommandQueues.close}: an update waiting for consumers stops waiting. */
  private readonly closedSignal = new Promise<void>((resolve) => {
    this.onClosed = resolve
  })

  constructor(
    private readonly state: NodeState,
    private readonly conn: Connection,
    private readonly handler: CommandHandler,
  ) {}

  get isPaused(): boolean {
    return this.paused
  }

  /** The namespaces served now, sorted. */
  get namespaces(): string[] {
    return [...this.shared.keys()].sort()
  }

  /** Declares the queues of `namespaces` and starts their consumers; resolves once all consume. */
  start(namespaces: readonly string[]): Promise<void> {
    const { options } = this.state
    for (const ns of new Set(namespaces)) this.bindings.push(this.binding(ns))
    for (let i = 0; i < options.consumerChannels; i++) {
      const consumer = this.consumer(this.state.names.nodeQueue, this.bindings)
      consumer.on('ready', () => this.retryUnbinds())
      this.nodeConsumers.push(consumer)
    }
    const started = [...this.nodeConsumers]
    for (const ns of new Set(namespaces)) started.push(...this.addShared(ns))
    return Promise.all(started.map(consuming)).then(() => undefined)
  }

  /**
   * Serves exactly `namespaces` from now on: binds `cmd.<ns>.<nodeId>` and starts the shared
   * queue's consumers of each new one; unbinds and stops those of each one gone. Updates run
   * one at a time, in call order; resolves when this one is applied (bindings confirmed by the
   * broker, new consumers consuming unless paused). A broker error is logged, not thrown: the
   * next reconnect re-declares the current bindings.
   */
  update(namespaces: readonly string[]): Promise<void> {
    const next = new Set(namespaces)
    const run = this.updating.then(() => this.apply(next))
    this.updating = run.catch(() => undefined)
    return run
  }

  /** Stops taking commands (those running go on) until {@link CommandQueues.resume}. */
  pause(): void {
    if (this.paused) return
    this.paused = true
    this.closing = Promise.allSettled(this.all().map((c) => c.close()))
  }

  /** Starts taking commands again after {@link CommandQueues.pause}. */
  resume(): void {
    if (!this.paused) return
    this.paused = false
    void this.closing.then(() => {
      if (this.paused || this.closed) return
      for (const c of this.all()) c.start()
    })
  }

  async close(): Promise<void> {
    this.closed = true
    this.onClosed()
    await Promise.allSettled(this.all().map((c) => c.close()))
  }

  private async apply(next: Set<string>): Promise<void> {
    if (this.closed) return
    const { names } = this.state
    const added = [...next].filter((ns) => !this.shared.has(ns))
    const removed = [...this.shared.keys()].filter((ns) => !next.has(ns))
    if (added.length === 0 && removed.length === 0) return
    const waits: Promise<void>[] = []
    for (const ns of added) {
      const binding = this.binding(ns)
      this.unbindLater.delete(binding.routingKey)
      if (!this.bindings.some((b) => b.routingKey === binding.routingKey)) {
        this.bindings.push(binding)
      }
      waits.push(
        this.conn.queueBind(binding).catch((err: unknown) => {
          this.state.logger.warn(
            { err, namespace: ns },
            'MindBus: could not bind a new namespace now (bound again at reconnect)',
          )
        }),
      )
      const consumers = this.addShared(ns)
      if (!this.paused) waits.push(...consumers.map(consuming))
    }
    for (const ns of removed) {
      const routingKey = `cmd.${ns}.${this.state.options.nodeId}`
      const at = this.bindings.findIndex((b) => b.routingKey === routingKey)
      if (at >= 0) this.bindings.splice(at, 1)
      this.unbindLater.add(routingKey)
      const consumers = this.shared.get(ns) ?? []
      this.shared.delete(ns)
      waits.push(Promise.allSettled(consumers.map((c) => c.close())).then(() => undefined))
    }
    await Promise.race([Promise.all(waits), this.closedSignal])
    if (this.closed) return
    await this.retryUnbinds()
    this.state.logger.info(
      { added, removed, namespaces: this.namespaces, queue: names.nodeQueue },
      'MindBus: served namespaces changed',
    )
  }

  /** Sends the pending `queue.unbind`s; those that fail stay pending. */
  private async retryUnbinds(): Promise<void> {
    for (const routingKey of [...this.unbindLater]) {
      if (this.bindings.some((b) => b.routingKey === routingKey)) {
        this.unbindLater.delete(routingKey)
        continue
      }
      try {
        await this.conn.queueUnbind({
          exchange: this.state.names.exchange,
          queue: this.state.names.nodeQueue,
          routingKey,
        })
        this.unbindLater.delete(routingKey)
      } catch (err) {
        this.state.logger.warn(
          { err, routingKey },
          'MindBus: could not unbind a namespace now (tried again at reconnect)',
        )
      }
    }
  }

  private addShared(ns: string): Consumer[] {
    const { names, options } = this.state
    const queue = `${names.prefix}.cmd.${ns}`
    const bindings = [{ exchange: names.exchange, queue, routingKey: `cmd.${ns}.any` }]
    const consumers: Consumer[] = []
    for (let i = 0; i < options.sharedConsumerChannels; i++) {
      consumers.push(this.consumer(queue, bindings))
    }
    this.shared.set(ns, consumers)
    return consumers
  }

  private consumer(queue: string, queueBindings: QueueBinding[]): Consumer {
    const { options, names } = this.state
    const consumer = this.conn.createConsumer(
      {
        queue,
        queueOptions: { durable: true, arguments: queueArguments(options.maxPriority, names.dlx) },
        queueBindings,
        qos: { prefetchCount: 1 },
        concurrency: 1,
        requeue: false,
        lazy: this.paused,
      },
      this.handler,
    )
    consumer.on('error', (err: unknown) =>
      this.state.logger.warn({ err, queue }, 'MindBus command consumer error (it retries)'),
    )
    return consumer
  }

  private binding(ns: string): QueueBinding {
    const { names, options } = this.state
    return {
      exchange: names.exchange,
      queue: names.nodeQueue,
      routingKey: `cmd.${ns}.${options.nodeId}`,
    }
  }

  private all(): Consumer[] {
    return [...this.nodeConsumers, ...[...this.shared.values()].flat()]
  }
}

/** Resolves when `consumer` has declared its queue and consumes. */
export function consuming(consumer: Consumer): Promise<void> {
  return new Promise((resolve) => consumer.once('ready', () => resolve()))
}
