import { levelToWord } from '@core/contracts'
import type { Capabilities } from './exposes.js'
import { isObject } from './json.js'
import type { ZigbeeDevice } from './types.js'

/** What turn_on/turn_off/toggle accept, from a device's capabilities (finite bounds only). */
export function commandsOf(caps: Capabilities): ZigbeeDevice['commands'] {
  const out: ZigbeeDevice['commands'] = { onOff: caps.onOff !== undefined }
  const finite = (r: { min: number; max: number }) => {
    const o: { min?: number; max?: number } = {}
    if (Number.isFinite(r.min)) o.min = r.min
    if (Number.isFinite(r.max)) o.max = r.max
    return o
  }
  if (caps.brightness !== undefined) out.brightness = finite(caps.brightness)
  if (caps.colorTemp !== undefined) out.color_temp = finite(caps.colorTemp)
  return out
}

/** `online`/`offline` from an availability message (JSON `{ state }` or the bare word), else undefined. */
export function availabilityOf(payload: unknown): 'online' | 'offline' | undefined {
  const value = isObject(payload) ? payload.state : payload
  return value === 'online' || value === 'offline' ? value : undefined
}

/** State key of a device's exposes: `exposes.<ieee address>` (kept across renames). */
export function exposesKey(ieee: string): string {
  return `exposes.${ieee}`
}

/**
 * A friendly name as dot-separated words, one per `/`-separated part, each mapped as the MQTT
 * bridge maps topic levels (`levelToWord`): `living room/lamp` → `living%20room.lamp`.
 */
export function nameToWords(friendlyName: string): string {
  return friendlyName.split('/').map(levelToWord).join('.')
}

/** The state key of a device: `devices.<friendly name words>`. */
export function deviceKey(friendlyName: string): string {
  return `devices.${nameToWords(friendlyName)}`
}
