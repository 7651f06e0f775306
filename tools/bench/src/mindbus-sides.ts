/**
 * The comparison sides of the MindBus benchmark (`mindbus.bench.ts`): the same echo RPC done by
 * raw amqplib (as the issue's baseline, and as the MindBus spec asks), amqplib with
 * amqp-connection-manager, rabbitmq-client and Moleculer's AMQP transporter.
 */
import { randomBytes } from 'node:crypto'
import amqpcm from 'amqp-connection-manager'
import amqplib from 'amqplib'
import { ServiceBroker } from 'moleculer'
import { Connection as RabbitConnection } from 'rabbitmq-client'
// MindBus's write coalescing (internal), to measure rabbitmq-client as MindBus drives it.
import { coalesceWrites } from '../../../packages/mindbus/src/state.js'

/** The broker (`CORE_AMQP_URL`). */
export const URL_ = process.env.CORE_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672'
/** The params of every call. */
export const PAYLOAD = { x: 1, y: 2, text: 'x'.repeat(100) }
/** This run's tag, in every queue and exchange name. */
export const run = randomBytes(3).toString('hex')

/** One call of a side. */
export type Call = () => Promise<unknown>

/** RabbitMQ's direct reply-to pseudo-queue. */
const REPLY_TO = 'amq.rabbitmq.reply-to'

/** The echo server of the amqplib sides: answers `{ ok, result: body }` to the reply-to, acks. */
function echo(ch: amqplib.Channel): (msg: amqplib.ConsumeMessage | null) => void {
  return (msg) => {
    if (msg === null) return
    const body = JSON.parse(msg.content.toString()) as unknown
    ch.sendToQueue(
      msg.properties.replyTo as string,
      Buffer.from(JSON.stringify({ ok: true, result: body })),
      { correlationId: msg.properties.correlationId as string },
    )
    ch.ack(msg)
  }
}

/** The reply-to consumer of the amqplib sides: resolves the pending call of each answer. */
function settle(
  pending: Map<string, (v: unknown) => void>,
): (msg: amqplib.ConsumeMessage | null) => void {
  return (msg) => {
    if (msg === null) return
    const id = msg.properties.correlationId as string
    pending.get(id)?.(JSON.parse(msg.content.toString()))
    pending.delete(id)
  }
}

/** Raw amqplib: a durable queue, persistent requests, direct reply-to, prefetch 64. */
export async function rawAmqplib(): Promise<{ call: Call; close: () => Promise<void> }> {
  const queue = `b${run}.raw`
  const conn = await amqplib.connect(URL_, { noDelay: true })
  const sch = await conn.createChannel()
  await sch.assertQueue(queue, { durable: true })
  await sch.prefetch(64)
  await sch.consume(queue, echo(sch))
  const cch = await conn.createChannel()
  const pending = new Map<string, (v: unknown) => void>()
  await cch.consume(REPLY_TO, settle(pending), { noAck: true })
  let n = 0
  return {
    call: () =>
      new Promise((resolve) => {
        const id = String(++n)
        pending.set(id, resolve)
        cch.sendToQueue(queue, Buffer.from(JSON.stringify(PAYLOAD)), {
          correlationId: id,
          replyTo: REPLY_TO,
          persistent: true,
          contentType: 'application/json',
        })
      }),
    close: async () => {
      await sch.deleteQueue(queue)
      await conn.close()
    },
  }
}

/** amqplib + amqp-connection-manager: the same RPC through ChannelWrappers (reconnecting). */
export async function amqpConnectionManager(): Promise<{ call: Call; close: () => Promise<void> }> {
  const queue = `b${run}.acm`
  const conn = amqpcm.connect([URL_], { connectionOptions: { noDelay: true } })
  const server = conn.createChannel({
    json: false,
    setup: async (ch: amqplib.ConfirmChannel) => {
      await ch.assertQueue(queue, { durable: true })
      await ch.prefetch(64)
      await ch.consume(queue, echo(ch))
    },
  })
  const pending = new Map<string, (v: unknown) => void>()
  const client = conn.createChannel({
    confirm: false,
    setup: async (ch: amqplib.Channel) => {
      await ch.consume(REPLY_TO, settle(pending), { noAck: true })
    },
  })
  await server.waitForConnect()
  await client.waitForConnect()
  let n = 0
  return {
    call: () =>
      new Promise((resolve, reject) => {
        const id = String(++n)
        pending.set(id, resolve)
        client
          .sendToQueue(queue, Buffer.from(JSON.stringify(PAYLOAD)), {
            correlationId: id,
            replyTo: REPLY_TO,
            persistent: true,
            contentType: 'application/json',
          })
          .catch(reject)
      }),
    close: async () => {
      await server.close()
      await client.close()
      const raw = await amqplib.connect(URL_)
      const ch = await raw.createChannel()
      await ch.deleteQueue(queue)
      await raw.close()
      await conn.close()
    },
  }
}

/** rabbitmq-client: its Consumer (prefetch 64) answering with `reply`, its RPCClient calling. */
export async function rabbitmqClient(): Promise<{ call: Call; close: () => Promise<void> }> {
  const queue = `b${run}.rc`
  const conn = new RabbitConnection({ url: URL_, noDelay: true })
  const server = conn.createConsumer(
    { queue, queueOptions: { durable: true }, qos: { prefetchCount: 64 }, concurrency: 64 },
    async (msg, reply) => {
      await reply({ ok: true, result: msg.body })
    },
  )
  await new Promise<void>((resolve) => server.once('ready', () => resolve()))
  const rpc = conn.createRPCClient({ confirm: false })
  return {
    call: () => rpc.send({ routingKey: queue, durable: true }, PAYLOAD),
    close: async () => {
      await rpc.close()
      await server.close()
      await conn.queueDelete(queue)
      await conn.close()
    },
  }
}

/**
 * Raw amqplib doing what the spec asks of MindBus: a confirm channel publishing persistent
 * commands with `expiration` through a topic exchange, 16 consumer channels of prefetch 1.
 * With `maxPriority` > 0 the queue is declared with that many levels (`x-max-priority`, the
 * spec's default is 255) and commands carry the spec's command priority, 20.
 */
export async function rawAmqplibSpec(
  maxPriority = 0,
): Promise<{ call: Call; close: () => Promise<void> }> {
  const queue = `b${run}.rawspec${maxPriority > 0 ? `p${maxPriority}` : ''}`
  const exchange = `${queue}.x`
  const conn = await amqplib.connect(URL_, { noDelay: true })
  const setup = await conn.createChannel()
  await setup.assertExchange(exchange, 'topic', { durable: true })
  await setup.assertQueue(queue, {
    durable: true,
    ...(maxPriority > 0 ? { arguments: { 'x-max-priority': maxPriority } } : {}),
  })
  await setup.bindQueue(queue, exchange, 'cmd.bench.*')
  for (let i = 0; i < 16; i++) {
    const sch = await conn.createChannel()
    await sch.prefetch(1)
    await sch.consume(queue, echo(sch))
  }
  const cch = await conn.createConfirmChannel()
  const pending = new Map<string, (v: unknown) => void>()
  await cch.consume(REPLY_TO, settle(pending), { noAck: true })
  let n = 0
  return {
    call: () =>
      new Promise((resolve) => {
        const id = String(++n)
        pending.set(id, resolve)
        cch.publish(exchange, 'cmd.bench.node', Buffer.from(JSON.stringify(PAYLOAD)), {
          correlationId: id,
          replyTo: REPLY_TO,
          persistent: true,
          expiration: '30000',
          contentType: 'application/json',
          ...(maxPriority > 0 ? { priority: 20 } : {}),
        })
      }),
    close: async () => {
      await setup.deleteQueue(queue)
      await setup.deleteExchange(exchange)
      await conn.close()
    },
  }
}

/**
 * rabbitmq-client doing what the spec asks, as MindBus drives it but without MindBus: a
 * confirm-mode channel publishing persistent commands with `expiration` through a topic
 * exchange, 16 `Consumer`s of prefetch 1 answering with `reply`, and the socket writes of each
 * event-loop turn coalesced (`coalesceWrites`). The library's share of MindBus's cost.
 */
export async function rabbitmqClientSpec(): Promise<{ call: Call; close: () => Promise<void> }> {
  const queue = `b${run}.rcspec`
  const exchange = `b${run}.rcspec.x`
  const server = new RabbitConnection({ url: URL_, noDelay: true })
  const client = new RabbitConnection({ url: URL_, noDelay: true })
  await server.exchangeDeclare({ exchange, type: 'topic', durable: true })
  const consumers = Array.from({ length: 16 }, () =>
    server.createConsumer(
      {
        queue,
        queueOptions: { durable: true },
        queueBindings: [{ exchange, queue, routingKey: 'cmd.bench.*' }],
        qos: { prefetchCount: 1 },
        concurrency: 1,
      },
      async (msg, reply) => {
        coalesceWrites(server)
        await reply({ ok: true, result: msg.body })
      },
    ),
  )
  await Promise.all(
    consumers.map((c) => new Promise<void>((resolve) => c.once('ready', () => resolve()))),
  )
  const ch = await client.acquire()
  await ch.confirmSelect()
  const pending = new Map<string, (v: unknown) => void>()
  await ch.basicConsume({ queue: REPLY_TO, noAck: true }, (msg) => {
    const id = msg.correlationId as string
    pending.get(id)?.(msg.body)
    pending.delete(id)
  })
  let n = 0
  return {
    call: () =>
      new Promise((resolve, reject) => {
        const id = String(++n)
        pending.set(id, resolve)
        coalesceWrites(client)
        ch.basicPublish(
          {
            exchange,
            routingKey: 'cmd.bench.node',
            correlationId: id,
            replyTo: REPLY_TO,
            durable: true,
            expiration: '30000',
          },
          PAYLOAD,
        ).catch(reject)
      }),
    close: async () => {
      for (const c of consumers) await c.close()
      await server.queueDelete(queue)
      await server.exchangeDelete({ exchange })
      await ch.close()
      await client.close()
      await server.close()
    },
  }
}

/** Moleculer 0.14, AMQP transporter tuned (TCP_NODELAY, prefetch 100): node A calls B's action. */
export async function moleculerAmqp(): Promise<{ call: Call; close: () => Promise<void> }> {
  const transporter = {
    type: 'AMQP',
    options: { url: URL_, socketOptions: { noDelay: true }, prefetch: 100 },
  }
  const namespace = `b${run}`
  const server = new ServiceBroker({
    nodeID: `${namespace}-b`,
    namespace,
    transporter,
    logger: false,
  })
  server.createService({ name: 'bench', actions: { echo: (ctx) => ctx.params } })
  const caller = new ServiceBroker({
    nodeID: `${namespace}-a`,
    namespace,
    transporter,
    logger: false,
  })
  await server.start()
  await caller.start()
  await caller.waitForServices('bench', 10_000)
  return {
    call: () => caller.call('bench.echo', PAYLOAD),
    close: async () => {
      await caller.stop()
      await server.stop()
    },
  }
}
