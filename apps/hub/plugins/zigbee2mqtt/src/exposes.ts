import { CoreError } from '@core/contracts'

/**
 * One entry of a Zigbee2MQTT device definition's `exposes` (or one of its `features`), as
 * published in `zigbee2mqtt/bridge/devices`: generic types `binary`, `numeric`, `enum`,
 * `text`, `composite`, `list`, and specific ones (`light`, `switch`, `fan`, `cover`, `lock`,
 * `climate`) holding `features`. `access` is a bit mask: 1 published in the state, 2 settable
 * with `/set`, 4 readable with `/get`.
 * @see https://www.zigbee2mqtt.io/guide/usage/exposes.html
 */
export interface Expose {
  type: string
  name?: string
  label?: string
  property?: string
  access?: number
  endpoint?: string
  unit?: string
  value_on?: unknown
  value_off?: unknown
  value_toggle?: unknown
  value_min?: number
  value_max?: number
  value_step?: number
  values?: unknown[]
  presets?: Array<{ name: string; value: unknown }>
  features?: Expose[]
}

/** What a device is, for the commands: `light` and `switch` take turn_on/turn_off/toggle. */
export type DeviceKind = 'light' | 'switch' | 'sensor' | 'other'

/** A numeric range from the exposes (inclusive). */
export interface Range {
  property: string
  min: number
  max: number
}

/** What the commands need to know about one device, read from its exposes. */
export interface Capabilities {
  kind: DeviceKind
  /** The on/off feature of the first light or switch expose. */
  onOff?: { property: string; on: unknown; off: unknown; toggle: unknown }
  brightness?: Range
  colorTemp?: Range
  /** Every feature with a `property`, by property (the first one wins). */
  features: Map<string, Expose>
}

/**
 * Reads a device's capabilities from its definition's `exposes`. Commands address the first
 * `light` or `switch` expose (on a multi-endpoint device its properties may be `state_l1`…;
 * other endpoints are reached with `zigbee2mqtt.set`).
 */
export function capabilitiesOf(exposes: unknown): Capabilities {
  const list = Array.isArray(exposes) ? (exposes.filter(isExpose) as Expose[]) : []
  const features = new Map<string, Expose>()
  const walk = (items: Expose[]): void => {
    for (const item of items) {
      if (item.property !== undefined && !features.has(item.property)) {
        features.set(item.property, item)
      }
      if (Array.isArray(item.features)) walk(item.features.filter(isExpose))
    }
  }
  walk(list)
  const caps: Capabilities = { kind: list.length === 0 ? 'other' : 'sensor', features }
  const main = list.find((e) => e.type === 'light' || e.type === 'switch')
  if (main === undefined) return caps
  caps.kind = main.type as 'light' | 'switch'
  const inner = (main.features ?? []).filter(isExpose)
  const state = inner.find((f) => f.name === 'state' && f.property !== undefined)
  if (state?.property !== undefined) {
    caps.onOff = {
      property: state.property,
      on: state.value_on ?? 'ON',
      off: state.value_off ?? 'OFF',
      toggle: state.value_toggle ?? 'TOGGLE',
    }
  }
  const range = (name: string): Range | undefined => {
    const f = inner.find((x) => x.name === name && x.property !== undefined)
    if (f?.property === undefined) return undefined
    return {
      property: f.property,
      min: typeof f.value_min === 'number' ? f.value_min : Number.NEGATIVE_INFINITY,
      max: typeof f.value_max === 'number' ? f.value_max : Number.POSITIVE_INFINITY,
    }
  }
  const brightness = range('brightness')
  if (brightness !== undefined) caps.brightness = brightness
  const colorTemp = range('color_temp')
  if (colorTemp !== undefined) caps.colorTemp = colorTemp
  return caps
}

/**
 * Checks a `/set` payload against the exposes: for each property the device exposes, the
 * feature must be settable (access bit 2), a `numeric` value within `value_min`…`value_max`
 * (or one of its preset names), a `binary` value one of `value_on` / `value_off` /
 * `value_toggle`, an `enum` value one of `values`. Properties the exposes do not name
 * (`transition`, `brightness_step`, `effect` on some devices…) pass unchecked, as Zigbee2MQTT
 * accepts more than it exposes.
 * @throws CoreError E_VALIDATION naming the device, the property and what is allowed.
 */
export function checkPayload(
  device: string,
  caps: Capabilities,
  payload: Record<string, unknown>,
): void {
  for (const [property, value] of Object.entries(payload)) {
    const feature = caps.features.get(property)
    if (feature === undefined) continue
    const refuse = (rule: string, extra: Record<string, unknown> = {}): never => {
      throw new CoreError(
        'E_VALIDATION',
        `${property} ${JSON.stringify(value)} is not accepted by "${device}": ${rule} (from its Zigbee2MQTT exposes)`,
        { details: { device, property, value, ...extra } },
      )
    }
    if (feature.access !== undefined && (feature.access & 2) === 0) {
      refuse('this property is read-only')
    }
    switch (feature.type) {
      case 'numeric': {
        const presets = (feature.presets ?? []).map((p) => p.name)
        if (typeof value === 'string' && presets.includes(value)) break
        if (typeof value !== 'number' || !Number.isFinite(value)) {
          refuse(`use a number${presets.length > 0 ? ` or a preset (${presets.join(', ')})` : ''}`)
        }
        const min = feature.value_min
        const max = feature.value_max
        if (
          (typeof min === 'number' && (value as number) < min) ||
          (typeof max === 'number' && (value as number) > max)
        ) {
          refuse(
            `out of range, use ${min ?? '-∞'}–${max ?? '∞'}${feature.unit ? ` ${feature.unit}` : ''}`,
            {
              min,
              max,
            },
          )
        }
        break
      }
      case 'binary': {
        const allowed = [feature.value_on, feature.value_off, feature.value_toggle].filter(
          (v) => v !== undefined,
        )
        if (allowed.length > 0 && !allowed.some((v) => v === value)) {
          refuse(`use ${allowed.map((v) => JSON.stringify(v)).join(', ')}`, { allowed })
        }
        break
      }
      case 'enum': {
        const values = feature.values ?? []
        if (values.length > 0 && !values.some((v) => v === value)) {
          refuse(`use one of ${values.map((v) => JSON.stringify(v)).join(', ')}`, {
            allowed: values,
          })
        }
        break
      }
      default:
        break
    }
  }
}

function isExpose(value: unknown): value is Expose {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { type?: unknown }).type === 'string'
  )
}
