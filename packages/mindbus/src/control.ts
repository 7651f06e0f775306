import { CoreError } from '@core/contracts'
import type { AsyncMessage, Connection, Consumer, Publisher } from 'rabbitmq-client'
import { ConsumerStatus } from 'rabbitmq-client'
import { callerOf, refusal } from './authorize.js'
import { consuming } from './command-queues.js'
import type { CommandServer } from './command-server.js'
import { CONTROL_TYPE, isControlType, makeEnvelope, PRIORITY, readEnvelope } from './envelope.js'
import { connectionReady, type NodeState, senderKey } from './state.js'
import type { ControlHandler, ControlScope, ControlSignal } from './types.js'

/** The control scopes, the last word of `ctl.<target>.<scope>`. */
export const CONTROL_SCOPES: readonly ControlScope[] = [
  'stop',
  'pause',
  'resume',
  'shutdown',
  'config',
  'cancel',
]

/** Lifetime of a control signal in the broker (a node that is down does not get stale ones), ms. */
const CONTROL_EXPIRATION_MS = 60_000

/**
 * Control signals: consumed from the node's own `mindbus.ctl.<nodeId>` queue on a channel of
 * their own (bound to `ctl.all.*`, `ctl.<nodeId>.*` and `ctl.<role>.*`), so they never wait
 * behind commands already delivered. Each signal but `cancel` is weighed by the `authorize`
 * hook first (`control.<scope>` of its target; a refused one is counted and dropped). `stop`
 * aborts the commands running here, `pause`/`resume` stop and restart the command consumers,
 * `cancel` aborts one command if the signal comes from the command's own sender; every signal
 * then goes to the handlers added with `on`.
 */
export class ControlChannel {
  private consumer: Consumer | undefined
  private readonly handlers = new Map<ControlScope, Set<ControlHandler>>()

  constructor(
    private readonly state: NodeState,
    private readonly conn: Connection,
    private readonly publisher: Publisher,
    private readonly commands: CommandServer,
  ) {}

  start(): Promise<void> {
    const { options, names } = this.state
    const targets = ['all', options.nodeId, ...options.roles]
    this.consumer = this.conn.createConsumer(
      {
        queue: names.controlQueue,
        queueOptions: {
          durable: true,
          arguments: { 'x-max-priority': 255, 'x-dead-letter-exchange': names.dlx },
        },
        queueBindings: targets.map((t) => ({
          exchange: names.exchange,
          queue: names.controlQueue,
          routingKey: `ctl.${t}.*`,
        })),
        qos: { prefetchCount: 16 },
        concurrency: 1,
        requeue: false,
      },
      (msg) => this.handle(msg),
    )
    this.consumer.on('error', (err: unknown) =>
      this.state.logger.warn({ err }, 'MindBus control consumer error (it retries)'),
    )
    return consuming(this.consumer)
  }

  on(scope: ControlScope, handler: ControlHandler): () => void {
    checkScope(scope)
    let set = this.handlers.get(scope)
    if (set === undefined) {
      set = new Set()
      this.handlers.set(scope, set)
    }
    set.add(handler)
    return () => {
      set.delete(handler)
    }
  }

  async send(
    target: string,
    scope: ControlScope,
    data?: unknown,
    expirationMs: number = CONTROL_EXPIRATION_MS,
  ): Promise<void> {
    checkScope(scope)
    if (!/^[A-Za-z0-9_-]+$/.test(target)) {
      throw new CoreError(
        'E_VALIDATION',
        `Control target ${JSON.stringify(target)} must be "all", a role or a node id (one word)`,
        {
          details: { target },
        },
      )
    }
    if (!connectionReady(this.conn)) {
      throw new CoreError(
        'E_UNAVAILABLE',
        `Cannot send ctl.${target}.${scope}: the broker connection is down; retry when it is back`,
      )
    }
    const { state } = this
    const envelope = state.guard.seal(
      makeEnvelope(
        CONTROL_TYPE,
        state.options.uid,
        { scope, target, data: data ?? null },
        { priority: PRIORITY.control },
      ),
    )
    await this.publisher.send(
      {
        exchange: state.names.exchange,
        routingKey: `ctl.${target}.${scope}`,
        messageId: envelope.id,
        priority: PRIORITY.control,
        expiration: String(expirationMs),
        durable: true,
        contentType: 'application/json',
        userId: state.user,
        appId: state.options.nodeId,
      },
      envelope,
    )
  }

  async close(): Promise<void> {
    await this.consumer?.close()
  }

  private async handle(msg: AsyncMessage): Promise<ConsumerStatus> {
    const { state } = this
    const envelope = readEnvelope(msg.body)
    const [, target = '', scope = ''] = msg.routingKey.split('.')
    if (
      typeof envelope === 'string' ||
      !isControlType(envelope.type) ||
      !CONTROL_SCOPES.includes(scope as ControlScope)
    ) {
      state.stats.deadLettered++
      state.logger.warn(
        {
          routingKey: msg.routingKey,
          reason:
            typeof envelope === 'string' ? envelope : `type "${envelope.type}" / scope "${scope}"`,
        },
        'MindBus: unreadable control signal dead-lettered',
      )
      return ConsumerStatus.DROP
    }
    if (state.guard.enabled && (await state.guard.check(envelope, 'control', msg.userId))) {
      state.stats.deadLettered++
      return ConsumerStatus.DROP
    }
    if (
      scope !== 'cancel' &&
      refusal(
        state.options.authorize,
        callerOf(envelope.source, msg.userId),
        `control.${scope as Exclude<ControlScope, 'cancel'>}`,
        target,
      ) !== undefined
    ) {
      state.stats.controlRefused++
      return ConsumerStatus.ACK
    }
    state.stats.controlReceived++
    const payload = envelope.data as { data?: unknown } | null
    const signal: ControlSignal = Object.freeze({
      target,
      scope: scope as ControlScope,
      data: payload?.data ?? null,
      from: envelope.source,
    })
    this.builtIn(signal, senderKey(envelope.source, msg.userId))
    for (const handler of this.handlers.get(signal.scope) ?? []) {
      try {
        await handler(signal)
      } catch (err) {
        state.logger.warn({ err, scope }, 'MindBus: a control handler failed')
      }
    }
    return ConsumerStatus.ACK
  }

  private builtIn(signal: ControlSignal, sender: string): void {
    const reason = new CoreError(
      'E_CANCELLED',
      `Cancelled by ctl.${signal.target}.${signal.scope} from ${signal.from}`,
    )
    switch (signal.scope) {
      case 'stop':
        this.commands.stopAll(reason)
        break
      case 'pause':
        this.commands.pause()
        break
      case 'resume':
        this.commands.resume()
        break
      case 'cancel': {
        const id = (signal.data as { id?: unknown } | null)?.id
        if (typeof id === 'string') this.commands.cancel(id, reason, sender)
        break
      }
      default:
        break
    }
  }
}

function checkScope(scope: string): void {
  if (!CONTROL_SCOPES.includes(scope as ControlScope)) {
    throw new CoreError(
      'E_VALIDATION',
      `Control scope ${JSON.stringify(scope)} is not one of ${CONTROL_SCOPES.join(', ')}`,
      {
        details: { scope },
      },
    )
  }
}
