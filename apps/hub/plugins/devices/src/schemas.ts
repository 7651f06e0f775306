import Type, { type Static } from 'typebox'

/** A device id: one lower-case word (it is a state key and a word of event types). */
export const DEVICE_ID_PATTERN = '^[a-z0-9][a-z0-9_-]{0,63}$'

const Id = Type.String({
  pattern: DEVICE_ID_PATTERN,
  description: 'Device id: lower-case letters, digits, "_" or "-"',
})
const Name = Type.String({ minLength: 1, maxLength: 100, description: 'Display name' })
const DeviceState = Type.Record(Type.String({ minLength: 1, maxLength: 64 }), Type.Unknown(), {
  description: 'Attribute → JSON value, e.g. { "on": true, "brightness": 200 }',
})

/** One device, as kept in state `devices.<id>` and returned by the services. */
export const DeviceSchema = Type.Object(
  {
    id: Id,
    name: Name,
    type: Type.String({ minLength: 1, maxLength: 64, description: 'light, switch, sensor…' }),
    room: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    state: DeviceState,
  },
  { additionalProperties: false },
)
export type Device = Static<typeof DeviceSchema>

export const AddParams = Type.Object(
  {
    id: Type.Optional(Id),
    name: Name,
    type: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    room: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    state: Type.Optional(DeviceState),
  },
  { additionalProperties: false },
)
export type AddParams = Static<typeof AddParams>

export const IdParams = Type.Object({ id: Id }, { additionalProperties: false })
export type IdParams = Static<typeof IdParams>

export const ListParams = Type.Object(
  { type: Type.Optional(Type.String()), room: Type.Optional(Type.String()) },
  { additionalProperties: false },
)
export type ListParams = Static<typeof ListParams>

export const RenameParams = Type.Object({ id: Id, name: Name }, { additionalProperties: false })
export type RenameParams = Static<typeof RenameParams>

export const SetStateParams = Type.Object(
  {
    id: Id,
    state: DeviceState,
    replace: Type.Optional(
      Type.Boolean({
        description: 'Replace the whole state instead of merging attributes into it',
      }),
    ),
  },
  { additionalProperties: false },
)
export type SetStateParams = Static<typeof SetStateParams>

export const RemoveResult = Type.Object({ id: Id, removed: Type.Literal(true) })
export type RemoveResult = Static<typeof RemoveResult>
