import { type CoreError, isTraceparent } from '@core/contracts'
import type { RemoteReply, ServiceRegistry } from '@core/service-registry'
import type { AsyncMessage, Connection, Consumer } from 'rabbitmq-client'
import { ConsumerStatus } from 'rabbitmq-client'
import {
  envelopeTimeMs,
  isCommandType,
  makeEnvelope,
  PRIORITY,
  RESULT_TYPE,
  readCommand,
  readEnvelope,
} from './envelope.js'
import { coalesceWrites, type NodeState, queueArguments } from './state.js'

/** Deadline of a command that arrives without `expiration` (a foreign client), in ms. */
const DEFAULT_COMMAND_TIMEOUT_MS = 30_000

/**
 * Serves commands: consumers (prefetch 1 each) on the node's queue and on the shared
 * `cmd.<ns>.any` queues, each command run through `services.serve` and answered on its
 * `reply_to` before it is acked.
 */
export class CommandServer {
  private readonly consumers: Consumer[] = []
  private services: ServiceRegistry | undefined
  private paused = false
  /** The consumers' closing after a pause; `resume` waits for it before starting them again. */
  private closing: Promise<unknown> = Promise.resolve()

  constructor(
    private readonly state: NodeState,
    private readonly conn: Connection,
  ) {}

  get isPaused(): boolean {
    return this.paused
  }

  /** Declares the command queues and starts their consumers; resolves once all consume. */
  start(services: ServiceRegistry, namespaces: readonly string[]): Promise<void> {
    this.services = services
    const { options, names } = this.state
    const handler = (msg: AsyncMessage, reply: Reply): Promise<ConsumerStatus> =>
      this.handle(msg, reply)
    const args = queueArguments(options.maxPriority, names.dlx)
    const nodeQueue = names.nodeQueue
    const bindings = namespaces.map((ns) => ({
      exchange: names.exchange,
      queue: nodeQueue,
      routingKey: `cmd.${ns}.${options.nodeId}`,
    }))
    for (let i = 0; i < options.consumerChannels; i++) {
      this.consumers.push(
        this.conn.createConsumer(
          {
            queue: nodeQueue,
            queueOptions: { durable: true, arguments: args },
            queueBindings: bindings,
            qos: { prefetchCount: 1 },
            concurrency: 1,
            requeue: false,
          },
          handler,
        ),
      )
    }
    for (const ns of namespaces) {
      const queue = `${names.prefix}.cmd.${ns}`
      for (let i = 0; i < options.sharedConsumerChannels; i++) {
        this.consumers.push(
          this.conn.createConsumer(
            {
              queue,
              queueOptions: { durable: true, arguments: args },
              queueBindings: [{ exchange: names.exchange, queue, routingKey: `cmd.${ns}.any` }],
              qos: { prefetchCount: 1 },
              concurrency: 1,
              requeue: false,
            },
            handler,
          ),
        )
      }
    }
    for (const c of this.consumers) {
      c.on('error', (err: unknown) =>
        this.state.logger.warn({ err }, 'MindBus command consumer error (it retries)'),
      )
    }
    return Promise.all(this.consumers.map(consuming)).then(() => undefined)
  }

  /** Stops taking commands (those running go on) until {@link CommandServer.resume}. */
  pause(): void {
    if (this.paused) return
    this.paused = true
    this.closing = Promise.allSettled(this.consumers.map((c) => c.close()))
  }

  /** Starts taking commands again after {@link CommandServer.pause}. */
  resume(): void {
    if (!this.paused) return
    this.paused = false
    void this.closing.then(() => {
      if (this.paused) return
      for (const c of this.consumers) c.start()
    })
  }

  /** Aborts the handler of command `id` if it runs here; else remembers it, so it never starts. */
  cancel(id: string, reason: CoreError): void {
    const running = this.state.running.get(id)
    if (running !== undefined) running.abort(reason)
    else this.state.cancelled.set(id, Date.now())
  }

  /** Aborts every command running on this node (`ctl.*.stop`). */
  stopAll(reason: CoreError): void {
    for (const controller of this.state.running.values()) controller.abort(reason)
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.consumers.map((c) => c.close()))
  }

  private async handle(msg: AsyncMessage, reply: Reply): Promise<ConsumerStatus> {
    const { state } = this
    const envelope = readEnvelope(msg.body)
    const why =
      typeof envelope === 'string'
        ? envelope
        : !isCommandType(envelope.type)
          ? `type "${envelope.type}" is not a command`
          : undefined
    const command =
      why === undefined && typeof envelope !== 'string' ? readCommand(envelope.data) : why
    if (typeof envelope === 'string' || typeof command === 'string' || command === undefined) {
      state.stats.deadLettered++
      state.logger.warn(
        { routingKey: msg.routingKey, reason: why ?? command },
        'MindBus: unreadable command dead-lettered',
      )
      return ConsumerStatus.DROP
    }
    const refusal = state.guard.enabled
      ? await state.guard.check(envelope, 'command', msg.userId, msg.redelivered)
      : undefined
    if (refusal !== undefined) {
      if (msg.replyTo === undefined) {
        state.stats.deadLettered++
        return ConsumerStatus.DROP
      }
      await this.sendReply(msg, reply, undefined, { ok: false, error: refusal.toJSON() })
      return ConsumerStatus.ACK
    }
    const now = Date.now()
    const sentAt = envelopeTimeMs(envelope)
    const expiration = msg.expiration === undefined ? undefined : Number(msg.expiration)
    let timeoutMs = DEFAULT_COMMAND_TIMEOUT_MS
    if (sentAt !== undefined && expiration !== undefined && Number.isFinite(expiration)) {
      timeoutMs = sentAt + expiration - now
      if (timeoutMs <= 0) {
        state.stats.droppedExpired++
        state.logger.warn(
          { id: envelope.id, routingKey: msg.routingKey, lateMs: -timeoutMs },
          'DroppedExpired: command expired before it could run',
        )
        return ConsumerStatus.ACK
      }
    }
    const id = envelope.id
    if (state.cancelled.has(id)) return ConsumerStatus.ACK
    const seen = state.handled.get(id)
    if (seen !== undefined) {
      state.stats.duplicates++
      if (seen !== 'running' && msg.replyTo !== undefined)
        await this.sendReply(msg, reply, envelope.traceparent, seen)
      return ConsumerStatus.ACK
    }
    state.handled.set(id, 'running')
    const ns = msg.routingKey.split('.')[1] ?? ''
    const meta: Record<string, unknown> = { ...(command.meta ?? {}) }
    if (isTraceparent(envelope.traceparent)) meta.traceparent = envelope.traceparent
    if (envelope.subject !== undefined) meta.subject = envelope.subject
    meta.caller = envelope.source
    if (msg.userId !== undefined) meta.user = msg.userId
    const controller = new AbortController()
    state.running.set(id, controller)
    let result: RemoteReply
    try {
      const request = {
        name: `${ns}.${command.action}`,
        params: command.params,
        timeoutMs: Math.max(1, Math.floor(timeoutMs)),
        deadlineAt: now + timeoutMs,
        meta,
        ...(command.version === undefined ? {} : { version: command.version }),
      }
      result = await (this.services as ServiceRegistry).serve(request, controller.signal)
    } finally {
      state.running.delete(id)
    }
    state.handled.set(id, result)
    const outcome = result.ok ? 'ok' : result.error.code
    state.stats.served[outcome] = (state.stats.served[outcome] ?? 0) + 1
    // The result and the ack (sent by the consumer when this returns) leave in one write.
    coalesceWrites(this.conn)
    if (msg.replyTo !== undefined) await this.sendReply(msg, reply, envelope.traceparent, result)
    return ConsumerStatus.ACK
  }

  private async sendReply(
    msg: AsyncMessage,
    reply: Reply,
    traceparent: string | undefined,
    result: RemoteReply,
  ): Promise<void> {
    const { state } = this
    const envelope = state.guard.seal(
      makeEnvelope(RESULT_TYPE, state.options.uid, result, {
        ...(traceparent === undefined ? {} : { traceparent }),
        ...(msg.correlationId === undefined ? {} : { correlationid: msg.correlationId }),
      }),
    )
    try {
      await reply(envelope, {
        correlationId: msg.correlationId,
        contentType: 'application/json',
        priority: PRIORITY.command,
        userId: state.user,
        appId: state.options.nodeId,
      })
    } catch (err) {
      // The caller is gone (its channel closed): nothing to answer; the command is still acked.
      state.logger.warn({ err, id: envelope.id }, 'MindBus: could not send a result')
    }
  }
}

/** Resolves when `consumer` has declared its queue and consumes. */
export function consuming(consumer: Consumer): Promise<void> {
  return new Promise((resolve) => consumer.once('ready', () => resolve()))
}

type Reply = (body: unknown, envelope?: Record<string, unknown>) => Promise<void>
