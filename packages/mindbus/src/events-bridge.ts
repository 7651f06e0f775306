import type { CloudEvent, Undo } from '@core/contracts'
import type { EventBus } from '@core/event-bus'
import type { AsyncMessage, Connection, Consumer, Publisher } from 'rabbitmq-client'
import { ConsumerStatus } from 'rabbitmq-client'
import { callerOf, refusal } from './authorize.js'
import { consuming } from './command-queues.js'
import { type Envelope, makeEnvelope, PRIORITY, readEnvelope } from './envelope.js'
import type { NodeState } from './state.js'

/**
 * The event bridge: local events matching the export patterns go to `evt.<type>` (priority 5,
 * persistent, confirmed); events bound by the import patterns on this node's event queue are
 * published on the local bus with their remote `source` and `id`. An imported event is never
 * exported again, and a node drops its own events.
 */
export class EventsBridge {
  private readonly subscriptions: Undo[] = []
  private consumer: Consumer | undefined
  /** Exports whose confirm is still awaited: pipelined, at most {@link MAX_EXPORTS_IN_FLIGHT}. */
  private readonly inFlight = new Set<Promise<void>>()

  constructor(
    private readonly state: NodeState,
    private readonly conn: Connection,
    private readonly publisher: Publisher,
    private readonly bus: EventBus,
  ) {}

  start(): Promise<void> {
    const { options, names } = this.state
    for (const pattern of options.exportEvents) {
      this.subscriptions.push(this.bus.subscribe(pattern, (event) => this.export(event)))
    }
    if (options.importEvents.length === 0) return Promise.resolve()
    this.consumer = this.conn.createConsumer(
      {
        queue: names.eventQueue,
        queueOptions: {
          durable: true,
          arguments: { 'x-max-priority': 10, 'x-dead-letter-exchange': names.dlx },
        },
        queueBindings: options.importEvents.map((pattern) => ({
          exchange: names.exchange,
          queue: names.eventQueue,
          routingKey: `evt.${pattern}`,
        })),
        qos: { prefetchCount: 32 },
        concurrency: 1,
        requeue: false,
      },
      (msg) => this.import(msg),
    )
    this.consumer.on('error', (err: unknown) =>
      this.state.logger.warn({ err }, 'MindBus event consumer error (it retries)'),
    )
    return consuming(this.consumer)
  }

  async close(): Promise<void> {
    for (const undo of this.subscriptions.splice(0)) undo()
    await Promise.allSettled(this.inFlight)
    await this.consumer?.close()
  }

  private async export(event: CloudEvent): Promise<void> {
    const { state } = this
    if (state.imported.has(event.id)) return
    let envelope: Envelope
    try {
      envelope = state.guard.seal(
        makeEnvelope(event.type, state.options.uid, event.data, {
          id: event.id,
          priority: PRIORITY.event,
          ...(event.subject === undefined ? {} : { subject: event.subject }),
          ...(event.traceparent === undefined ? {} : { traceparent: event.traceparent }),
          ...(event.time === undefined ? {} : { time: event.time }),
        }),
      )
    } catch (err) {
      // Data without a canonical JSON form cannot be signed: it is not exported.
      state.logger.warn({ err, type: event.type }, 'MindBus: event export failed')
      return
    }
    const sent = this.publisher
      .send(
        {
          exchange: state.names.exchange,
          routingKey: `evt.${event.type}`,
          messageId: event.id,
          priority: PRIORITY.event,
          durable: true,
          contentType: 'application/json',
          userId: state.user,
          appId: state.options.nodeId,
        },
        envelope,
      )
      .then(
        () => {
          state.stats.eventsExported++
        },
        (err: unknown) => {
          state.logger.warn({ err, type: event.type, id: event.id }, 'MindBus: event export failed')
        },
      )
      .finally(() => {
        this.inFlight.delete(sent)
      })
    this.inFlight.add(sent)
    // Confirms are pipelined; the bus's next event waits only when too many are unconfirmed.
    if (this.inFlight.size >= MAX_EXPORTS_IN_FLIGHT) await Promise.race(this.inFlight)
  }

  private async import(msg: AsyncMessage): Promise<ConsumerStatus> {
    const { state } = this
    const envelope = readEnvelope(msg.body)
    if (typeof envelope === 'string') {
      state.stats.deadLettered++
      state.logger.warn(
        { routingKey: msg.routingKey, reason: envelope },
        'MindBus: unreadable event dead-lettered',
      )
      return ConsumerStatus.DROP
    }
    if (msg.appId === state.options.nodeId || envelope.source === state.options.uid)
      return ConsumerStatus.ACK
    if (state.guard.enabled && (await state.guard.check(envelope, 'event', msg.userId))) {
      state.stats.deadLettered++
      return ConsumerStatus.DROP
    }
    const type = msg.routingKey.slice('evt.'.length)
    if (
      refusal(
        state.options.authorize,
        callerOf(envelope.source, msg.userId),
        'events.publish',
        type,
      )
    ) {
      state.stats.eventsRefused++
      return ConsumerStatus.ACK
    }
    state.imported.set(envelope.id, true)
    try {
      await this.bus.publish(type, envelope.data, {
        source: envelope.source,
        id: envelope.id,
        wait: false,
        ...(envelope.time === undefined ? {} : { time: envelope.time }),
        ...(envelope.subject === undefined ? {} : { subject: envelope.subject }),
        ...(envelope.traceparent === undefined ? {} : { traceparent: envelope.traceparent }),
      })
      state.stats.eventsImported++
    } catch (err) {
      state.logger.warn({ err, type }, 'MindBus: imported event refused by the local bus')
    }
    return ConsumerStatus.ACK
  }
}

/** Unconfirmed event exports allowed before the export subscription waits. */
const MAX_EXPORTS_IN_FLIGHT = 256
