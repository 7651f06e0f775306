import type { Capabilities, DeviceKind } from './exposes.js'

/** The plugin's config (manifest `corePlugin.config`, defaults applied by the kernel). */
export interface Zigbee2MqttConfig {
  /** Zigbee2MQTT's `mqtt.base_topic`. @defaultValue 'zigbee2mqtt' */
  baseTopic: string
  /** QoS of the subscription and the `/set` commands. @defaultValue 1 */
  qos: 0 | 1 | 2
  /** Devices taken from one `bridge/devices` listing; the rest are refused and counted. @defaultValue 1000 */
  maxDevices: number
  /** Attributes one device's state may hold; a message that would pass it is refused. @defaultValue 200 */
  maxAttributes: number
  /**
   * Bytes (UTF-8 JSON) of one device's record, state included, and of its exposes; a message
   * or listing entry that would pass it is refused. @defaultValue 131072 (128 KiB)
   */
  maxDeviceBytes: number
}

/** `online`/`offline` as Zigbee2MQTT reports it, `unknown` before it has. */
export type Availability = 'online' | 'offline' | 'unknown'

/**
 * One device, as kept in state at `zigbee2mqtt` / `devices.<friendly name words>`: what
 * `bridge/devices` says about it, what the commands accept, its availability and its last
 * state (the JSON of `zigbee2mqtt/<friendly_name>` messages, merged).
 */
export interface ZigbeeDevice {
  ieee_address: string
  friendly_name: string
  /** `Router` or `EndDevice`. */
  type: string
  model: string | null
  vendor: string | null
  description: string | null
  supported: boolean
  kind: DeviceKind
  /** What turn_on/turn_off/toggle accept, from the exposes (ranges inclusive). */
  commands: {
    onOff: boolean
    brightness?: { min?: number; max?: number }
    color_temp?: { min?: number; max?: number }
  }
  availability: Availability
  state: Record<string, unknown>
}

/** State key `bridge`: the bridge's own availability and counters. */
export interface BridgeInfo {
  /** From `zigbee2mqtt/bridge/state`. */
  state: Availability
  /** Devices known from `bridge/devices` (the coordinator left out). */
  devices: number
  /** Messages refused as bad input (not JSON where JSON is due, unknown availability…). */
  rejected: number
  /**
   * Devices and messages refused for passing a limit (`maxDevices`, `maxAttributes`,
   * `maxDeviceBytes`).
   */
  refused: number
  /**
   * Device changes refused because storage would not keep them: memory and state keep the
   * last stored version, so a restart loses nothing they show.
   */
  persistFailures: number
  /** The message of the last storage failure, or `null`. */
  lastPersistError: string | null
}

/** The data of a `zigbee2mqtt.device.<words>.state-changed` event. */
export interface StateChangedEvent {
  device: string
  ieee_address: string
  state: Record<string, unknown>
  /** Attributes whose value changed, with their new value (`null` when removed). */
  changed: Record<string, unknown>
  previous: Record<string, unknown>
}

/** The data of a `zigbee2mqtt.device.<words>.availability-changed` event. */
export interface AvailabilityChangedEvent {
  device: string
  ieee_address: string
  availability: Availability
  previous: Availability
}

/** A device in the registry, with what its exposes allow. */
export interface Entry {
  device: ZigbeeDevice
  caps: Capabilities
  /** The definition's `exposes`, as received. */
  exposes: unknown
}
