import { assertTopic, CoreError, type MqttMessageData, rateLimited } from '@core/contracts'
import type { PluginContext } from '@core/kernel'
import { availabilityOf, commandsOf, deviceKey, exposesKey, nameToWords } from './device-keys.js'
import { capabilitiesOf, type DeviceKind } from './exposes.js'
import { isObject, jsonBytes, sameJson, stringOr } from './json.js'
import type {
  AvailabilityChangedEvent,
  BridgeInfo,
  Entry,
  StateChangedEvent,
  Zigbee2MqttConfig,
  ZigbeeDevice,
} from './types.js'

const MAX_PENDING = 500

/**
 * The devices of one Zigbee2MQTT installation, fed by its MQTT messages, mirrored into state
 * (and storage), and looked up by the command services.
 */
export function createRegistry(ctx: PluginContext<Zigbee2MqttConfig>) {
  const ns = ctx.name
  const base = ctx.config.baseTopic
  const log = ctx.logger
  let byName = new Map<string, Entry>()
  /** Messages for devices not (yet) in `bridge/devices`, by topic after the base. */
  const pending = new Map<string, MqttMessageData>()
  const bridge: BridgeInfo = {
    state: 'unknown',
    devices: 0,
    rejected: 0,
    refused: 0,
    persistFailures: 0,
    lastPersistError: null,
  }
  const { maxDevices, maxAttributes, maxDeviceBytes } = ctx.config
  const limited = rateLimited(log)
  let devicesKnown = false

  const emit = (type: string, data: unknown): void => {
    try {
      assertTopic(type, 'event type')
    } catch {
      log.debug({ type }, 'event type too long for the bus; not published')
      return
    }
    ctx.events.publish(type, data, { wait: false }).catch((error: unknown) => {
      log.warn({ err: error }, `could not publish ${type}`)
    })
  }
  let savedBridge = ''
  const saveBridge = async (): Promise<void> => {
    const json = JSON.stringify(bridge)
    if (json === savedBridge) return
    await ctx.state.set(ns, 'bridge', { ...bridge })
    savedBridge = json
  }
  const reject = async (topic: string, why: string): Promise<void> => {
    bridge.rejected++
    limited.warn(
      'zigbee2mqtt.rejected',
      { topic },
      `Zigbee2MQTT message on "${topic}" ignored: ${why}`,
    )
    await saveBridge()
  }
  const refuse = async (topic: string, why: string, count = 1): Promise<void> => {
    bridge.refused += count
    limited.warn(
      'zigbee2mqtt.refused',
      { topic },
      `Zigbee2MQTT message on "${topic}" refused: ${why}`,
    )
    await saveBridge()
  }
  /**
   * Runs a write to the (kernel-persisted) state, which storage must accept first; on failure
   * counts it, tells (log, state, event) and returns false.
   */
  const persisted = async (what: string, write: () => Promise<unknown>): Promise<boolean> => {
    try {
      await write()
      return true
    } catch (error) {
      bridge.persistFailures++
      bridge.lastPersistError = `${what}: ${(error as Error).message}`
      limited.error(
        'zigbee2mqtt.persist-failed',
        { err: error },
        `Zigbee2MQTT: storing ${what} failed; the change is refused so that memory, state and storage agree`,
      )
      emit(`${ns}.bridge.persist-failed`, { what, error: (error as Error).message })
      await saveBridge()
      return false
    }
  }
  /**
   * Makes `device` the entry's device: state first (stored by the kernel before it changes),
   * then memory. Refused (false) when it passes `maxDeviceBytes` or storage fails; nothing
   * changes then.
   */
  const commit = async (entry: Entry, device: ZigbeeDevice, topic: string): Promise<boolean> => {
    const bytes = jsonBytes(device)
    if (bytes > maxDeviceBytes) {
      await refuse(
        topic,
        `device "${device.friendly_name}" would take ${bytes} bytes; at most ${maxDeviceBytes} (config maxDeviceBytes)`,
      )
      return false
    }
    const stored = await persisted(`device ${device.ieee_address}`, () =>
      ctx.state.set(ns, deviceKey(device.friendly_name), device),
    )
    if (!stored) return false
    entry.device = device
    return true
  }
  /** Removes the device's state key; its exposes too unless it was only renamed. */
  const forget = async (device: ZigbeeDevice, renamed: boolean): Promise<void> => {
    await persisted(`the removal of device ${device.ieee_address}`, async () => {
      if (!renamed) await ctx.state.delete(ns, exposesKey(device.ieee_address))
      await ctx.state.delete(ns, deviceKey(device.friendly_name))
    })
  }
  const eventBase = (name: string): string => `${ns}.device.${nameToWords(name)}`

  const onDevices = async (topic: string, payload: unknown): Promise<void> => {
    if (!Array.isArray(payload)) {
      return reject(topic, 'bridge/devices must be a JSON array of devices')
    }
    const byIeee = new Map<string, Entry>()
    for (const e of byName.values()) byIeee.set(e.device.ieee_address, e)
    const next = new Map<string, Entry>()
    let overLimit = 0
    for (const raw of payload) {
      if (!isObject(raw)) continue
      const name = raw.friendly_name
      const ieee = raw.ieee_address
      if (typeof name !== 'string' || name === '' || typeof ieee !== 'string' || ieee === '')
        continue
      if (raw.type === 'Coordinator') continue
      if (next.size >= maxDevices) {
        overLimit++
        continue
      }
      try {
        assertTopic(`state.${ns}.${deviceKey(name)}`, 'state key')
      } catch {
        await reject(topic, `friendly name "${name}" is too long to be a state key`)
        continue
      }
      const definition = isObject(raw.definition) ? raw.definition : undefined
      const exposes = Array.isArray(definition?.exposes) ? definition.exposes : []
      const exposesBytes = jsonBytes(exposes)
      if (exposesBytes > maxDeviceBytes) {
        await refuse(
          topic,
          `the exposes of "${name}" take ${exposesBytes} bytes; at most ${maxDeviceBytes} (config maxDeviceBytes)`,
        )
        continue
      }
      const caps = capabilitiesOf(exposes)
      const prev = byIeee.get(ieee)
      const device: ZigbeeDevice = {
        ieee_address: ieee,
        friendly_name: name,
        type: typeof raw.type === 'string' ? raw.type : 'Unknown',
        model: stringOr(definition?.model),
        vendor: stringOr(definition?.vendor),
        description: stringOr(definition?.description),
        supported: raw.supported !== false && definition !== undefined,
        kind: caps.kind,
        commands: commandsOf(caps),
        availability: prev?.device.availability ?? 'unknown',
        state: prev?.device.state ?? {},
      }
      next.set(name, { device, caps, exposes })
    }
    if (overLimit > 0) {
      await refuse(
        topic,
        `it lists more than ${maxDevices} devices (config maxDevices); ${overLimit} left out`,
        overLimit,
      )
    }
    const added: string[] = []
    const removed: string[] = []
    const renamed: Array<{ from: string; to: string; ieee_address: string }> = []
    const nextIeee = new Map([...next.values()].map((e) => [e.device.ieee_address, e]))
    for (const [name, old] of byName) {
      if (next.has(name) && next.get(name)?.device.ieee_address === old.device.ieee_address)
        continue
      const moved = nextIeee.get(old.device.ieee_address)
      if (moved !== undefined) {
        renamed.push({
          from: name,
          to: moved.device.friendly_name,
          ieee_address: old.device.ieee_address,
        })
        await forget(old.device, true)
      } else {
        removed.push(name)
        await forget(old.device, false)
      }
    }
    const previous = byName
    byName = next
    for (const [name, entry] of [...next]) {
      const old = previous.get(name)
      // Exposes first, then the device: a device is only known once both are stored.
      const kept =
        ((old !== undefined && sameJson(old.exposes, entry.exposes)) ||
          (await persisted(`the exposes of ${entry.device.ieee_address}`, () =>
            ctx.state.set(ns, exposesKey(entry.device.ieee_address), entry.exposes),
          ))) &&
        ((old !== undefined && sameJson(old.device, entry.device)) ||
          (await commit(entry, entry.device, topic)))
      if (!kept) {
        if (old === undefined) next.delete(name)
        else next.set(name, old)
        continue
      }
      if (old === undefined && !renamed.some((r) => r.to === name)) added.push(name)
    }
    devicesKnown = true
    bridge.devices = next.size
    await saveBridge()
    if (added.length + removed.length + renamed.length > 0) {
      emit(`${ns}.bridge.devices-changed`, { added, removed, renamed })
    }
    // Messages that came before their device was known.
    for (const [rest, message] of [...pending]) {
      if (resolve(rest) === undefined) continue
      pending.delete(rest)
      await handle(message)
    }
  }

  const onState = async (entry: Entry, topic: string, payload: unknown): Promise<void> => {
    if (!isObject(payload)) {
      return reject(topic, `the state of "${entry.device.friendly_name}" must be a JSON object`)
    }
    const previous = entry.device.state
    // Counted before merging: an object with thousands of new property names is what costs
    // (each name a new hidden class), so a refused message must never be spread.
    let attributes = Object.keys(previous).length
    for (const key of Object.keys(payload)) {
      if (!Object.hasOwn(previous, key) && ++attributes > maxAttributes) break
    }
    if (attributes > maxAttributes) {
      attributes = Object.keys(previous).length + Object.keys(payload).length
      return refuse(
        topic,
        `the state of "${entry.device.friendly_name}" would have up to ${attributes} attributes; at most ${maxAttributes} (config maxAttributes)`,
      )
    }
    const state = { ...previous, ...payload }
    const changed: Record<string, unknown> = {}
    for (const key of Object.keys(state)) {
      if (!sameJson(state[key], previous[key])) changed[key] = state[key] ?? null
    }
    if (Object.keys(changed).length === 0) return
    if (!(await commit(entry, { ...entry.device, state }, topic))) return
    const data: StateChangedEvent = {
      device: entry.device.friendly_name,
      ieee_address: entry.device.ieee_address,
      state,
      changed,
      previous,
    }
    emit(`${eventBase(entry.device.friendly_name)}.state-changed`, data)
  }

  const onAvailability = async (entry: Entry, topic: string, payload: unknown): Promise<void> => {
    const value = availabilityOf(payload)
    if (value === undefined) {
      return reject(
        topic,
        'availability must be "online", "offline" or {"state":"online"|"offline"}',
      )
    }
    const previous = entry.device.availability
    if (value === previous) return
    if (!(await commit(entry, { ...entry.device, availability: value }, topic))) return
    const data: AvailabilityChangedEvent = {
      device: entry.device.friendly_name,
      ieee_address: entry.device.ieee_address,
      availability: value,
      previous,
    }
    emit(`${eventBase(entry.device.friendly_name)}.availability-changed`, data)
  }

  /** What a topic (after the base) is about: a device's state or availability. */
  const resolve = (rest: string): { entry: Entry; what: 'state' | 'availability' } | undefined => {
    const direct = byName.get(rest)
    if (direct !== undefined) return { entry: direct, what: 'state' }
    if (rest.endsWith('/availability')) {
      const entry = byName.get(rest.slice(0, -'/availability'.length))
      if (entry !== undefined) return { entry, what: 'availability' }
    }
    return undefined
  }

  const handle = async (message: MqttMessageData): Promise<void> => {
    const { topic, payload } = message
    if (!topic.startsWith(`${base}/`)) return
    const rest = topic.slice(base.length + 1)
    // An empty payload clears a retained message: nothing to learn from it.
    if (payload === '') return
    if (rest === 'bridge/devices') return onDevices(topic, payload)
    if (rest === 'bridge/state') {
      const value = availabilityOf(payload)
      if (value === undefined)
        return reject(topic, 'bridge/state must be "online"/"offline" or {"state":…}')
      bridge.state = value
      return saveBridge()
    }
    if (rest.startsWith('bridge/')) return
    const target = resolve(rest)
    if (target !== undefined) {
      return target.what === 'state'
        ? onState(target.entry, topic, payload)
        : onAvailability(target.entry, topic, payload)
    }
    // Commands (our own /set included) and requests.
    if (/\/(?:set|get)(?:\/|$)/.test(rest)) return
    if (pending.size >= MAX_PENDING) {
      const oldest = pending.keys().next().value
      if (oldest !== undefined) pending.delete(oldest)
    }
    pending.delete(rest)
    pending.set(rest, message)
    if (devicesKnown) log.debug({ topic }, 'message for a device not in bridge/devices (kept)')
  }

  const adoptLegacyDocuments = async (): Promise<void> => {
    for await (const { key, value } of ctx.storage.iterate({ prefix: 'device.', pageSize: 500 })) {
      const device = value as unknown as ZigbeeDevice
      const exposes = await ctx.storage.get(`exposes.${device.ieee_address}`)
      if (exposes !== undefined) await ctx.state.set(ns, exposesKey(device.ieee_address), exposes)
      await ctx.state.set(ns, deviceKey(device.friendly_name), device)
      await ctx.storage.delete(`exposes.${device.ieee_address}`)
      await ctx.storage.delete(key)
    }
  }

  return {
    handle,
    /**
     * Loads the last known devices (with their states) and exposes from the state the kernel
     * restored into memory; devices earlier versions kept as storage documents of their own
     * are moved into state first, once.
     */
    async restore(): Promise<void> {
      await adoptLegacyDocuments()
      for (const { value } of await ctx.state.list(ns, { prefix: 'devices' })) {
        const device = value as unknown as ZigbeeDevice
        const exposes = (await ctx.state.get(ns, exposesKey(device.ieee_address)))?.value
        byName.set(device.friendly_name, { device, caps: capabilitiesOf(exposes), exposes })
      }
      bridge.devices = byName.size
      await saveBridge()
    },
    /** The device named `name`, or E_NOT_FOUND listing the known ones. */
    find(name: string): Entry {
      const entry = byName.get(name)
      if (entry !== undefined) return entry
      const known = [...byName.keys()].sort()
      throw new CoreError(
        'E_NOT_FOUND',
        `No Zigbee2MQTT device "${name}"; known devices: ${
          known.length > 0
            ? known.map((n) => JSON.stringify(n)).join(', ')
            : `none yet (waiting for ${base}/bridge/devices)`
        }`,
        { details: { device: name, known } },
      )
    },
    list(kind?: DeviceKind): ZigbeeDevice[] {
      return [...byName.values()]
        .map((e) => e.device)
        .filter((d) => kind === undefined || d.kind === kind)
        .sort((a, b) =>
          a.friendly_name < b.friendly_name ? -1 : a.friendly_name > b.friendly_name ? 1 : 0,
        )
    },
    names(kinds: DeviceKind[]): string[] {
      return [...byName.values()]
        .filter((e) => kinds.includes(e.device.kind))
        .map((e) => e.device.friendly_name)
        .sort()
    },
  }
}

/** What {@link createRegistry} returns. */
export type Registry = ReturnType<typeof createRegistry>
