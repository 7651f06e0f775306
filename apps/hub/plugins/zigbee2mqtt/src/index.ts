import { CoreError, filterToPattern, type MqttMessageData, rateLimited } from '@core/contracts'
import type { PluginContext, PluginHooks } from '@core/kernel'
import { checkPayload } from './exposes.js'
import { createRegistry, type Registry } from './registry.js'
import {
  CommandResult,
  ListParams,
  SetParams,
  ToggleParams,
  TurnOffParams,
  TurnOnParams,
} from './schemas.js'
import type { Zigbee2MqttConfig } from './types.js'

export type { DeviceKind, Expose } from './exposes.js'
export type {
  CommandResult,
  ListParams,
  SetParams,
  ToggleParams,
  TurnOffParams,
  TurnOnParams,
} from './schemas.js'
export type {
  Availability,
  AvailabilityChangedEvent,
  BridgeInfo,
  StateChangedEvent,
  Zigbee2MqttConfig,
  ZigbeeDevice,
} from './types.js'

/**
 * The zigbee2mqtt plugin: bridges a Zigbee2MQTT installation through the MQTT bridge's
 * services (`mqtt.subscribe`, `mqtt.publish`, `mqtt.unsubscribe`) and `mqtt.message.…`
 * events; it never opens a broker connection of its own.
 *
 * - Devices come from the retained `<base>/bridge/devices` (the coordinator left out); each is
 *   kept in state at `zigbee2mqtt` / `devices.<friendly name words>` (the friendly name split
 *   at `/`, each part percent-encoded as `@core/mqtt` does: `living room/lamp` →
 *   `devices.living%20room.lamp`) with its model, kind, command ranges, availability and
 *   last state. `bridge` holds `{ state, devices, rejected, refused, persistFailures,
 *   lastPersistError }`.
 * - `<base>/<friendly_name>` (JSON) is merged into the device's `state`; a change publishes
 *   `zigbee2mqtt.device.<words>.state-changed` `{ device, ieee_address, state, changed, previous }`.
 * - `<base>/<friendly_name>/availability` as `online`/`offline` or `{"state":"online"}` sets
 *   `availability` and publishes `zigbee2mqtt.device.<words>.availability-changed`.
 * - Services: `zigbee2mqtt.set` `{ device, payload }`, and for lights and switches
 *   `turn_on` `{ device, brightness?, color_temp?, transition? }`, `turn_off`, `toggle`: each
 *   publishes the JSON payload to `<base>/<friendly_name>/set`, checked against the device's
 *   exposes (ranges, values, read-only features); `list` `{ kind? }`.
 * - Bad input (non-JSON state, an unknown availability form, a non-array device list) is
 *   logged and counted in `bridge.rejected`, never thrown. Device data past `maxDevices`,
 *   `maxAttributes` or `maxDeviceBytes` is refused and counted in `bridge.refused`.
 * - `exposes.<ieee address>` holds each device's exposes (what its commands are checked against).
 * - Storage first: the manifest says `persistState: true`, so the kernel writes every change
 *   of the namespace to storage before state takes it, and restores the namespace on start;
 *   a device change is set in state, then kept in memory. One storage refuses is refused as a
 *   whole (`bridge.persistFailures`, an error log and `zigbee2mqtt.bridge.persist-failed`), so
 *   memory, state and storage always agree.
 *
 * @see https://www.zigbee2mqtt.io/guide/usage/mqtt_topics_and_messages.html
 */
export default async function zigbee2mqtt(
  ctx: PluginContext<Zigbee2MqttConfig>,
): Promise<PluginHooks<Zigbee2MqttConfig>> {
  const registry = createRegistry(ctx)
  await registry.restore()
  registerServices(ctx, registry)
  const base = ctx.config.baseTopic
  const filter = `${base}/#`
  const limited = rateLimited(ctx.logger)
  return {
    start: async () => {
      // Listen on the bus first, then subscribe: the retained messages the broker sends right
      // after SUBACK must find the subscription in place.
      ctx.events.subscribe<MqttMessageData>(
        filterToPattern(filter),
        (event) =>
          registry.handle(event.data).catch((error: unknown) => {
            limited.error(
              'zigbee2mqtt.message.failed',
              { err: error, topic: event.data.topic },
              'Zigbee2MQTT message failed',
            )
          }),
        { signal: ctx.signal, name: 'zigbee2mqtt' },
      )
      try {
        await ctx.services.call('mqtt.subscribe', { filter, qos: ctx.config.qos })
      } catch (error) {
        if (CoreError.is(error, 'E_SERVICE_NOT_FOUND')) {
          throw new CoreError(
            'E_UNAVAILABLE',
            'zigbee2mqtt needs the MQTT bridge (@core/mqtt, service mqtt.subscribe): create it with createMqttBridge(kernel) before the kernel starts',
            { cause: error },
          )
        }
        throw error
      }
    },
    stop: async () => {
      await ctx.services.call('mqtt.unsubscribe', { filter }).catch(() => undefined)
    },
  }
}

function registerServices(ctx: PluginContext<Zigbee2MqttConfig>, registry: Registry): void {
  const base = ctx.config.baseTopic
  const send = async (device: string, payload: Record<string, unknown>): Promise<CommandResult> => {
    const topic = `${base}/${device}/set`
    await ctx.services.call('mqtt.publish', { topic, payload, qos: ctx.config.qos })
    return { topic, payload }
  }
  /** A light or switch, or E_VALIDATION naming the ones there are. */
  const switchable = (name: string, service: string) => {
    const entry = registry.find(name)
    if (entry.caps.onOff === undefined) {
      const known = registry.names(['light', 'switch'])
      const what = [entry.device.vendor, entry.device.model].filter(Boolean).join(' ')
      throw new CoreError(
        'E_VALIDATION',
        `Device "${name}" is a ${entry.device.kind}${what ? ` (${what})` : ''} with no on/off state; ${service} works on lights and switches: ${
          known.map((n) => JSON.stringify(n)).join(', ') || 'none known'
        }`,
        { details: { device: name, kind: entry.device.kind } },
      )
    }
    return { entry, onOff: entry.caps.onOff }
  }

  ctx.services.register(
    'zigbee2mqtt.set',
    async (p: SetParams) => {
      const entry = registry.find(p.device)
      checkPayload(p.device, entry.caps, p.payload)
      return send(p.device, { ...p.payload })
    },
    {
      description:
        'Publishes a JSON payload to zigbee2mqtt/<device>/set (checked against its exposes)',
      params: SetParams,
      result: CommandResult,
    },
  )

  ctx.services.register(
    'zigbee2mqtt.turn_on',
    async (p: TurnOnParams) => {
      const { entry, onOff } = switchable(p.device, 'turn_on')
      const payload: Record<string, unknown> = { [onOff.property]: onOff.on }
      if (p.brightness !== undefined) {
        if (entry.caps.brightness === undefined) {
          throw new CoreError(
            'E_VALIDATION',
            `Device "${p.device}" has no brightness (its exposes list none); leave brightness out`,
            { details: { device: p.device, property: 'brightness' } },
          )
        }
        payload[entry.caps.brightness.property] = p.brightness
      }
      if (p.color_temp !== undefined) {
        if (entry.caps.colorTemp === undefined) {
          throw new CoreError(
            'E_VALIDATION',
            `Device "${p.device}" has no color_temp (its exposes list none); leave color_temp out`,
            { details: { device: p.device, property: 'color_temp' } },
          )
        }
        payload[entry.caps.colorTemp.property] = p.color_temp
      }
      if (p.transition !== undefined) payload.transition = p.transition
      checkPayload(p.device, entry.caps, payload)
      return send(p.device, payload)
    },
    {
      description:
        'Turns a light or switch on, optionally at a brightness and colour temperature within its exposed ranges',
      params: TurnOnParams,
      result: CommandResult,
    },
  )

  ctx.services.register(
    'zigbee2mqtt.turn_off',
    async (p: TurnOffParams) => {
      const { onOff } = switchable(p.device, 'turn_off')
      const payload: Record<string, unknown> = { [onOff.property]: onOff.off }
      if (p.transition !== undefined) payload.transition = p.transition
      return send(p.device, payload)
    },
    {
      description: 'Turns a light or switch off',
      params: TurnOffParams,
      result: CommandResult,
      idempotent: true,
    },
  )

  ctx.services.register(
    'zigbee2mqtt.toggle',
    async (p: ToggleParams) => {
      const { onOff } = switchable(p.device, 'toggle')
      return send(p.device, { [onOff.property]: onOff.toggle })
    },
    { description: 'Toggles a light or switch', params: ToggleParams, result: CommandResult },
  )

  ctx.services.register('zigbee2mqtt.list', (p: ListParams) => registry.list(p.kind), {
    description: 'The known Zigbee2MQTT devices, by friendly name, optionally of one kind',
    params: ListParams,
    idempotent: true,
  })
}
