import Type, { type Static } from 'typebox'

/**
 * One state key's current entry, as `state.get` returns it.
 *
 * - `value`: a JSON value (the engine's own copy);
 * - `revision`: monotonic per key, starting at 1; bumped by every set (like etcd's
 *   mod revision), never reused, even after a delete;
 * - `updatedAt`: epoch milliseconds of the last set;
 * - `expiresAt`: epoch milliseconds when a TTL was given.
 *
 * @public
 */
export const StateEntrySchema = Type.Object(
  {
    value: Type.Unknown(),
    revision: Type.Integer({ minimum: 1 }),
    updatedAt: Type.Integer({ minimum: 0 }),
    expiresAt: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  { $id: 'https://core-runtime.dev/schemas/state-entry.json', title: 'StateEntry' },
)

/** See {@link StateEntrySchema}. @public */
export type StateEntry<T = unknown> = Omit<Static<typeof StateEntrySchema>, 'value'> & { value: T }

/** Why a state key changed. @public */
export const StateChangeReasonSchema = Type.Union([
  Type.Literal('set'),
  Type.Literal('delete'),
  Type.Literal('expired'),
])

/** `set`, `delete` or `expired`. @public */
export type StateChangeReason = Static<typeof StateChangeReasonSchema>

/**
 * The `data` of a `state.<namespace>.<key>` event, published on every change.
 *
 * - `value`: the new value; absent after `delete` and `expired`;
 * - `previous`: the value before; absent when the key did not exist;
 * - `revision`: the revision the change produced; a delete or an expiry takes a new revision
 *   too, greater than any the key had (revisions are never reused);
 * - `updatedAt`: epoch milliseconds of the change: after a `set`, the new entry's `updatedAt`;
 * - `expiresAt`: after a `set` with a TTL, the new entry's `expiresAt` (epoch ms).
 *
 * With `value`, `revision`, `updatedAt` and `expiresAt`, a `set` change holds the whole new
 * {@link StateEntry}: a consumer need not read the key back. The state engine stamps
 * `updatedAt` (and `expiresAt`) on the changes of every write made through it; a change a
 * shared backend relays from another hub carries them when that backend reports them.
 *
 * @public
 */
export const StateChangeSchema = Type.Object(
  {
    namespace: Type.String(),
    key: Type.String(),
    value: Type.Optional(Type.Unknown()),
    previous: Type.Optional(Type.Unknown()),
    revision: Type.Integer({ minimum: 1 }),
    reason: StateChangeReasonSchema,
    updatedAt: Type.Optional(Type.Integer({ minimum: 0 })),
    expiresAt: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  { $id: 'https://core-runtime.dev/schemas/state-change.json', title: 'StateChange' },
)

/** See {@link StateChangeSchema}. @public */
export type StateChange<T = unknown> = Omit<
  Static<typeof StateChangeSchema>,
  'value' | 'previous'
> & {
  value?: T
  previous?: T
}
