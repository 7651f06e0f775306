import Type, { type Static } from 'typebox'

const Device = Type.String({
  minLength: 1,
  maxLength: 255,
  description: 'Friendly name of the device, as in Zigbee2MQTT (may hold spaces and "/")',
})

const Transition = Type.Number({
  minimum: 0,
  maximum: 3600,
  description: 'Seconds over which the light changes (Zigbee2MQTT "transition")',
})

/** Params of `zigbee2mqtt.set`: any `/set` payload for one device. */
export const SetParams = Type.Object(
  {
    device: Device,
    payload: Type.Record(Type.String({ minLength: 1 }), Type.Unknown(), {
      minProperties: 1,
      description: 'The JSON object published to zigbee2mqtt/<device>/set, e.g. {"state":"ON"}',
    }),
  },
  { additionalProperties: false },
)
export type SetParams = Static<typeof SetParams>

/** Params of `zigbee2mqtt.turn_on`. */
export const TurnOnParams = Type.Object(
  {
    device: Device,
    brightness: Type.Optional(
      Type.Integer({
        description: 'Brightness, within the range the device exposes (often 0–254)',
      }),
    ),
    color_temp: Type.Optional(
      Type.Integer({
        description: 'Colour temperature in mired, within the range the device exposes',
      }),
    ),
    transition: Type.Optional(Transition),
  },
  { additionalProperties: false },
)
export type TurnOnParams = Static<typeof TurnOnParams>

/** Params of `zigbee2mqtt.turn_off`. */
export const TurnOffParams = Type.Object(
  { device: Device, transition: Type.Optional(Transition) },
  { additionalProperties: false },
)
export type TurnOffParams = Static<typeof TurnOffParams>

/** Params of `zigbee2mqtt.toggle`. */
export const ToggleParams = Type.Object({ device: Device }, { additionalProperties: false })
export type ToggleParams = Static<typeof ToggleParams>

/** Params of `zigbee2mqtt.list`. */
export const ListParams = Type.Object(
  {
    kind: Type.Optional(
      Type.Enum(['light', 'switch', 'sensor', 'other'], {
        description: 'Only devices of this kind',
      }),
    ),
  },
  { additionalProperties: false },
)
export type ListParams = Static<typeof ListParams>

/** What the command services return: the message they published. */
export const CommandResult = Type.Object({
  topic: Type.String(),
  payload: Type.Record(Type.String(), Type.Unknown()),
})
export type CommandResult = Static<typeof CommandResult>
