import { randomUUID } from 'node:crypto'
import { CoreError, isTraceparent } from '@core/contracts'
import type { RemoteCallRequest, RemoteReply, ServiceRegistry } from '@core/service-registry'
import type { AsyncMessage, Connection } from 'rabbitmq-client'
import { ConsumerStatus } from 'rabbitmq-client'
import { callerOf, refusal as policyRefusal } from './authorize.js'
import { CommandQueues } from './command-queues.js'
import {
  type Envelope,
  envelopeTimeMs,
  isCommandType,
  PRIORITY,
  RESULT_TYPE,
  readCommand,
  readEnvelope,
} from './envelope.js'
import { coalesceWrites, type NodeState, senderKey } from './state.js'

/** Idle AbortControllers kept for reuse (at most one per command running at once, in practice). */
const MAX_IDLE_CONTROLLERS = 256

/** Deadline of a command that arrives without `expiration` (a foreign client), in ms. */
const DEFAULT_COMMAND_TIMEOUT_MS = 30_000

/**
 * Serves commands: consumers (prefetch 1 each, see {@link CommandQueues}) on the node's queue
 * and on the shared `cmd.<ns>.any` queues, each command run through `services.serve` and
 * answered on its `reply_to` before it is acked.
 */
export class CommandServer {
  private services: ServiceRegistry | undefined
  /**
   * Controllers of commands that ended without being aborted, reused for the next commands:
   * reading a new AbortController's `signal` costs ~13 µs on Node 20 (more than the rest of
   * serving a command). The registry removes its listener when a call settles, so a reused
   * signal reaches only the command it is lent to; an aborted one is never reused.
   */
  private readonly idleControllers: AbortController[] = []
  /** The command queues and their consumers (node queue, shared namespace queues). */
  readonly queues: CommandQueues

  constructor(
    private readonly state: NodeState,
    private readonly conn: Connection,
  ) {
    this.queues = new CommandQueues(state, conn, (msg, reply) => this.handle(msg, reply))
  }

  get isPaused(): boolean {
    return this.queues.isPaused
  }

  /** Declares the command queues and starts their consumers; resolves once all consume. */
  start(services: ServiceRegistry, namespaces: readonly string[]): Promise<void> {
    this.services = services
    return this.queues.start(namespaces)
  }

  /** Stops taking commands (those running go on) until {@link CommandServer.resume}. */
  pause(): void {
    this.queues.pause()
  }

  /** Starts taking commands again after {@link CommandServer.pause}. */
  resume(): void {
    this.queues.resume()
  }

  /**
   * Aborts the handler of command `id` if it runs here; else remembers the cancel, so the
   * command never starts. Only a cancel from the command's own sender (`sender`, a
   * {@link senderKey}) counts: anyone else's is ignored.
   */
  cancel(id: string, reason: CoreError, sender: string): void {
    const running = this.state.running.get(id)
    if (running === undefined) this.state.cancelled.set(id, sender)
    else if (running.sender === sender) running.controller.abort(reason)
  }

  /** Aborts every command running on this node (`ctl.*.stop`). */
  stopAll(reason: CoreError): void {
    for (const running of this.state.running.values()) running.controller.abort(reason)
  }

  close(): Promise<void> {
    return this.queues.close()
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
    const expiration = msg.expiration === undefined ? undefined : Number(msg.expiration)
    let timeoutMs = DEFAULT_COMMAND_TIMEOUT_MS
    if (expiration !== undefined && Number.isFinite(expiration)) {
      const sentAt = envelopeTimeMs(envelope)
      if (sentAt !== undefined) {
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
    }
    const id = envelope.id
    const sender = senderKey(envelope.source, msg.userId)
    if (state.cancelled.get(id) === sender) return ConsumerStatus.ACK
    const seen = state.handled.get(id)
    if (seen !== undefined) {
      state.stats.duplicates++
      // While it runs: dropped (the first delivery answers). Then: its result, to its own
      // sender only; anyone else reusing the id learns nothing from it.
      if (!state.running.has(id) && msg.replyTo !== undefined) {
        const kept = seen === sender ? state.results.get(id) : undefined
        await this.sendReply(
          msg,
          reply,
          envelope.traceparent,
          kept ?? { ok: false, error: this.resultGone(id, seen === sender).toJSON() },
        )
      }
      return ConsumerStatus.ACK
    }
    state.handled.set(id, sender)
    const routingKey = msg.routingKey
    const first = routingKey.indexOf('.')
    const second = routingKey.indexOf('.', first + 1)
    const ns = first < 0 ? '' : routingKey.slice(first + 1, second < 0 ? undefined : second)
    // The command's own meta, from the body just parsed: no one else holds it, so it is
    // completed in place rather than copied.
    const meta: Record<string, unknown> = command.meta ?? {}
    if (isTraceparent(envelope.traceparent)) meta.traceparent = envelope.traceparent
    if (envelope.subject !== undefined) meta.subject = envelope.subject
    meta.caller = envelope.source
    if (msg.userId !== undefined) meta.user = msg.userId
    const controller = this.idleControllers.pop() ?? new AbortController()
    state.running.set(id, { controller, sender })
    let result: RemoteReply
    try {
      const name = `${ns}.${command.action}`
      const request: RemoteCallRequest = {
        name,
        params: command.params,
        timeoutMs: Math.max(1, Math.floor(timeoutMs)),
        deadlineAt: now + timeoutMs,
        meta,
      }
      if (command.version !== undefined) request.version = command.version
      result =
        policyRefusal(
          state.options.authorize,
          callerOf(envelope.source, msg.userId),
          'services.call',
          name,
        ) ?? (await (this.services as ServiceRegistry).serve(request, controller.signal))
    } finally {
      state.running.delete(id)
      if (!controller.signal.aborted && this.idleControllers.length < MAX_IDLE_CONTROLLERS) {
        this.idleControllers.push(controller)
      }
    }
    const outcome = result.ok ? 'ok' : result.error.code
    state.stats.served[outcome] = (state.stats.served[outcome] ?? 0) + 1
    // The result and the ack (sent by the consumer when this returns) leave in one write.
    coalesceWrites(this.conn)
    if (msg.replyTo !== undefined) {
      await this.sendReply(msg, reply, envelope.traceparent, result, id)
    }
    return ConsumerStatus.ACK
  }

  /**
   * The answer to a duplicate of command `id` that is not answered with its result: its result
   * is no longer held (`sameSender`), or the duplicate comes from another sender than the
   * command.
   */
  private resultGone(id: string, sameSender: boolean): CoreError {
    const { options } = this.state
    return new CoreError(
      'E_CONFLICT',
      sameSender
        ? `Command ${id} already ran on node "${options.uid}" and is not run again; its result is no longer held (kept ${options.dedupWindowMs} ms, up to ${options.dedupResultBytes} bytes of results): read the outcome from the service before you retry`
        : `Command id ${id} was already used on node "${options.uid}" by another sender: send each command with a fresh id`,
      { details: { id, node: options.uid } },
    )
  }

  /**
   * Sends `result` to the command's `reply_to`. With `keepAs` (the command id), the result is
   * also kept to answer the command's duplicates, weighed by the bytes sent.
   */
  private async sendReply(
    msg: AsyncMessage,
    reply: Reply,
    traceparent: string | undefined,
    result: RemoteReply,
    keepAs?: string,
  ): Promise<void> {
    const { state } = this
    const { options } = state
    const envelope: Envelope = {
      specversion: '1.0',
      id: randomUUID(),
      source: options.uid,
      type: RESULT_TYPE,
      time: new Date().toISOString(),
      datacontenttype: 'application/json',
      data: result,
    }
    // Extensions in the order `makeEnvelope` writes them.
    if (traceparent !== undefined) envelope.traceparent = traceparent
    const correlationId = msg.correlationId
    if (correlationId !== undefined) envelope.correlationid = correlationId
    // Encoded here rather than by the client (the same `JSON.stringify` it would run), so the
    // size of what is kept for duplicates is known.
    const body = Buffer.from(JSON.stringify(state.guard.seal(envelope)), 'utf8')
    if (keepAs !== undefined) state.results.set(keepAs, result, body.length)
    try {
      await reply(body, {
        correlationId,
        contentType: 'application/json',
        priority: PRIORITY.command,
        userId: state.user,
        appId: options.nodeId,
      })
    } catch (err) {
      // The caller is gone (its channel closed): nothing to answer; the command is still acked.
      state.logger.warn({ err, id: envelope.id }, 'MindBus: could not send a result')
    }
  }
}

type Reply = (body: unknown, envelope?: Record<string, unknown>) => Promise<void>
