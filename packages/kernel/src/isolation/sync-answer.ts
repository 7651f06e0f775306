import type { Codec, Encoded } from './codec.js'
import type { Peer, SyncReply } from './peer-types.js'

/**
 * Answers a plugin's synchronous ctx call (host side): runs the handed-over function `fn`
 * with the decoded arguments while the plugin blocks. Only functions handed over as
 * synchronous run here: an asynchronous one would leave its promise (and a rejection)
 * unattended. An undo function returned by a synchronous call is synchronous as well.
 * @returns The reply: `{ id, ok: true, r }` (the result, encoded) or `{ id, ok: false, e }` —
 *   `E_FORBIDDEN` for an unknown or asynchronous function, the thrown error otherwise.
 * @internal
 */
export function answerSync(peer: Peer, codec: Codec, request: unknown): SyncReply {
  const r = request as Partial<{ id: number; fn: number; a: Encoded }>
  const id = typeof r?.id === 'number' ? r.id : -1
  const forbidden = (message: string): SyncReply => ({
    id,
    ok: false,
    e: { name: 'CoreError', code: 'E_FORBIDDEN', message },
  })
  const handle = peer.localFunction(r?.fn)
  if (handle === undefined)
    return forbidden(`No function #${String(r?.fn)} was handed to this side`)
  if (!handle.sync) return forbidden(`Function #${String(r.fn)} cannot be called synchronously`)
  try {
    const args = peer.importValue(r.a as Encoded)
    if (!Array.isArray(args)) throw new TypeError('arguments are not an array')
    const value = handle.fn(...args)
    if (typeof (value as { then?: unknown })?.then === 'function')
      throw new TypeError('a synchronous function returned a promise')
    if (typeof value === 'function') {
      const ref = peer.exportFunction(value as (...args: unknown[]) => unknown, true)
      return { id, ok: true, r: { v: null, x: [[[], 'f', ref]] } }
    }
    return { id, ok: true, r: peer.exportValue(value) }
  } catch (error) {
    return { id, ok: false, e: codec.errorJson(error) }
  }
}
