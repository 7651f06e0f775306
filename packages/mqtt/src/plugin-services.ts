import {
  assertMqttFilter,
  assertMqttTopic,
  assertPattern,
  assertTopic,
  CoreError,
  filterToPattern,
  type Logger,
  MESSAGE_EVENT_PREFIX,
  type MqttMessageData,
  mqttTopicMatches,
  type RateLimitedLogger,
  topicToWords,
} from '@core/contracts'
import type { Kernel, PluginTransitionEvent, ServiceCallContext } from '@core/kernel'
import type { IPublishPacket } from 'mqtt'
import type { Connection } from './connection.js'
import { decodePayload, encodePayload } from './payload.js'
import type {
  Counters,
  MqttPublishParams,
  MqttQos,
  MqttStatusResult,
  MqttSubscribeParams,
  MqttSubscribeResult,
  MqttUnsubscribeParams,
  MqttUnsubscribeResult,
} from './types.js'

/** What {@link registerPluginServices} needs from the bridge. @internal */
export interface PluginServicesDeps {
  kernel: Kernel
  /** The connection, once `start()` made it. */
  connection: () => Connection | undefined
  prefix: string
  counters: Counters
  logger: Logger
  /** The bridge's rate-limited warnings. */
  limited: RateLimitedLogger
  status: () => MqttStatusResult
}

/** The plugin-facing half of the bridge. @internal */
export interface PluginServices {
  /** Every filter held, with the highest QoS asked, to re-send after a CONNACK. */
  subscriptions(): Array<{ filter: string; qos: MqttQos }>
  /** Filters with their callers, for `mqtt.status`. */
  holders(): Array<{ filter: string; callers: string[] }>
  /**
   * Publishes `mqtt.message.<words>` when a held filter matches the topic; the promise (if
   * any) settles once every handler of the event has.
   */
  dispatch(topic: string, payload: Buffer, packet: IPublishPacket): Promise<void> | undefined
  /** Unregisters the services and ends the bus subscriptions. */
  close(): void
}

/** `meta.caller` of calls from outside any plugin (HTTP, CLI, the host). @internal */
export const NO_CALLER = '(none)'

const QOS = { type: 'integer', enum: [0, 1, 2] } as const

const PUBLISH_PARAMS = {
  type: 'object',
  properties: {
    topic: { type: 'string', minLength: 1, description: 'MQTT topic name (no wildcards)' },
    payload: {
      description: 'A string is sent as UTF-8 text, any other JSON value as JSON; absent = empty',
    },
    qos: { ...QOS, default: 0, description: 'Quality of service' },
    retain: { type: 'boolean', default: false, description: 'Keep as the retained message' },
  },
  required: ['topic'],
  additionalProperties: false,
} as const

const SUBSCRIBE_PARAMS = {
  type: 'object',
  properties: {
    filter: { type: 'string', minLength: 1, description: 'MQTT topic filter (+ and # allowed)' },
    qos: { ...QOS, default: 0, description: 'Maximum QoS asked of the broker' },
  },
  required: ['filter'],
  additionalProperties: false,
} as const

const UNSUBSCRIBE_PARAMS = {
  type: 'object',
  properties: { filter: { type: 'string', minLength: 1 } },
  required: ['filter'],
  additionalProperties: false,
} as const

/**
 * Registers `mqtt.publish`, `mqtt.subscribe`, `mqtt.unsubscribe` and `mqtt.status` in the
 * kernel's registry and turns inbound messages matching held filters into bus events.
 * Filters are held per caller (`meta.caller`, the calling plugin); a filter stays subscribed at
 * the broker while any caller holds it. When a plugin is unloaded or fails and is not running
 * again, its filters are released.
 * @internal
 */
export function registerPluginServices(deps: PluginServicesDeps): PluginServices {
  const { kernel, counters, logger: log, limited, prefix } = deps
  /** filter → caller → QoS asked. */
  const filters = new Map<string, Map<string, MqttQos>>()
  const undos: Array<() => void> = []

  const maxQos = (callers: Map<string, MqttQos>): MqttQos => {
    let q: MqttQos = 0
    for (const v of callers.values()) if (v > q) q = v
    return q
  }

  const release = (caller: string, filter: string): boolean => {
    const callers = filters.get(filter)
    if (callers === undefined || !callers.delete(caller)) return false
    if (callers.size === 0) {
      filters.delete(filter)
      deps
        .connection()
        ?.unsubscribe([filter])
        .catch(() => undefined)
    }
    return true
  }

  try {
    undos.push(
      kernel.services.register<MqttPublishParams, void>(
        'mqtt.publish',
        async (params) => {
          assertMqttTopic(params.topic)
          if (params.topic === prefix || params.topic.startsWith(`${prefix}/`)) {
            throw new CoreError(
              'E_FORBIDDEN',
              `Topic "${params.topic}" is under "${prefix}/", which belongs to the kernel's MQTT bridge (status, events, state, calls); publish elsewhere`,
              { details: { topic: params.topic, prefix } },
            )
          }
          const body = encodePayload(params.payload)
          const connection = deps.connection()
          if (connection === undefined) {
            counters.dropped++
            throw new CoreError(
              'E_UNAVAILABLE',
              `The MQTT bridge is not started: nothing was published to "${params.topic}"; start it with bridge.start()`,
            )
          }
          try {
            await connection.publish(params.topic, body, {
              qos: params.qos ?? 0,
              retain: params.retain ?? false,
            })
          } catch (error) {
            counters.dropped++
            throw error
          }
          counters.published++
        },
        {
          params: PUBLISH_PARAMS,
          description:
            'Publishes one MQTT message; refused with E_UNAVAILABLE while the broker is not connected (nothing is queued)',
          timeoutMs: 10_000,
        },
      ),
    )

    undos.push(
      kernel.services.register<MqttSubscribeParams, MqttSubscribeResult>(
        'mqtt.subscribe',
        async (params, context) => {
          assertMqttFilter(params.filter)
          const pattern = filterToPattern(params.filter)
          try {
            assertPattern(pattern, 'event pattern')
          } catch (error) {
            throw new CoreError(
              'E_VALIDATION',
              `MQTT filter "${params.filter}" is too long or too deep for a bus pattern ("${pattern}": at most 255 bytes and 32 words)`,
              { cause: error, details: { filter: params.filter } },
            )
          }
          const caller = callerOf(context)
          const qos = params.qos ?? 0
          let callers = filters.get(params.filter)
          if (callers === undefined) {
            callers = new Map()
            filters.set(params.filter, callers)
          }
          const had = callers.get(caller)
          callers.set(caller, qos)
          const connection = deps.connection()
          if (connection?.connected) {
            // Sent even when the filter is held already: the broker then re-sends the retained
            // messages, which this new caller has not seen.
            let granted: number | undefined
            try {
              const grants = await connection.subscribe([
                { filter: params.filter, qos: maxQos(callers) },
              ])
              granted = grants[0]?.qos
            } catch (error) {
              // The link dropped: the filter is kept and sent again on the next CONNACK.
              log.debug(
                { err: error, filter: params.filter },
                'SUBSCRIBE not sent; kept for reconnect',
              )
            }
            if (granted !== undefined && granted >= 0x80) {
              if (had === undefined) release(caller, params.filter)
              else callers.set(caller, had)
              throw new CoreError(
                granted === 0x87 ? 'E_FORBIDDEN' : 'E_UNAVAILABLE',
                `The broker refused the subscription to "${params.filter}" (reason code 0x${granted.toString(16)}${granted === 0x87 ? ': not authorized; check the broker ACL' : ''})`,
                { details: { filter: params.filter, reasonCode: granted } },
              )
            }
          }
          return { pattern }
        },
        {
          params: SUBSCRIBE_PARAMS,
          description:
            'Subscribes to an MQTT topic filter for the calling plugin; matching messages arrive as mqtt.message.<words> events (pattern returned)',
          timeoutMs: 10_000,
          idempotent: true,
        },
      ),
    )

    undos.push(
      kernel.services.register<MqttUnsubscribeParams, MqttUnsubscribeResult>(
        'mqtt.unsubscribe',
        (params, context) => {
          assertMqttFilter(params.filter)
          return { released: release(callerOf(context), params.filter) }
        },
        {
          params: UNSUBSCRIBE_PARAMS,
          description: "Releases the calling plugin's hold on an MQTT topic filter",
          idempotent: true,
        },
      ),
    )

    undos.push(
      kernel.services.register<Record<string, never>, MqttStatusResult>(
        'mqtt.status',
        () => deps.status(),
        {
          params: { type: 'object', additionalProperties: false },
          description: 'Connection, counters and topic filters of the MQTT bridge',
          idempotent: true,
        },
      ),
    )
  } catch (error) {
    for (const undo of undos.splice(0)) undo()
    throw error
  }

  // A plugin's filters go when it is unloaded or fails. The event arrives after the fact; if
  // the plugin is already running again (a reload), its new instance has re-declared what it
  // needs, and filters are held as a set per caller, so nothing is released then.
  const onGone = async (event: { data: PluginTransitionEvent }): Promise<void> => {
    const name = event.data.name
    const info = await kernel.plugins.get(name).catch(() => undefined)
    if (info !== undefined && info.state !== 'unloaded' && info.state !== 'failed') return
    for (const filter of [...filters.keys()]) {
      if (release(name, filter)) log.debug({ plugin: name, filter }, 'released MQTT filter')
    }
  }
  undos.push(kernel.bus.subscribe('core.plugin.unloaded', onGone, { name: 'mqtt-bridge' }))
  undos.push(kernel.bus.subscribe('core.plugin.failed', onGone, { name: 'mqtt-bridge' }))

  return {
    subscriptions: () =>
      [...filters].map(([filter, callers]) => ({ filter, qos: maxQos(callers) })),
    holders: () =>
      [...filters].map(([filter, callers]) => ({ filter, callers: [...callers.keys()].sort() })),
    dispatch: (topic, payload, packet) => {
      let held = false
      for (const filter of filters.keys()) {
        if (mqttTopicMatches(filter, topic)) {
          held = true
          break
        }
      }
      if (!held) return undefined
      let type: string
      try {
        type = `${MESSAGE_EVENT_PREFIX}.${topicToWords(topic)}`
        assertTopic(type, 'event type')
      } catch (error) {
        counters.dropped++
        limited.warn(
          'mqtt.message.topic-too-long',
          { err: error, topic: topic.slice(0, 200) },
          `MQTT message on "${topic.slice(0, 200)}" not delivered: its topic does not fit an event type (at most 255 bytes and 32 words once encoded)`,
        )
        return undefined
      }
      const data: MqttMessageData = {
        topic,
        payload: decodePayload(payload),
        retain: packet.retain,
        qos: packet.qos,
      }
      // Awaited (`wait`), so that the bridge counts this message in flight until its handlers
      // settle: that is what bounds the inbound queue.
      return kernel.bus.publish(type, data, { source: '/mqtt', subject: topic }).then(
        () => undefined,
        (error: unknown) => {
          counters.dropped++
          limited.warn(
            'mqtt.message.bus-refused',
            { err: error, topic },
            'could not publish an MQTT message on the bus',
          )
        },
      )
    },
    close: () => {
      for (const undo of undos.splice(0)) undo()
    },
  }
}

function callerOf(context: ServiceCallContext): string {
  const caller = context.meta.caller
  return typeof caller === 'string' && caller !== '' ? caller : NO_CALLER
}
